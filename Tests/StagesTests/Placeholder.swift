import Testing

@Test func placeholderStages() { #expect(1 + 1 == 2) }
