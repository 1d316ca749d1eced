import Testing

@Test func placeholderSigning() { #expect(1 + 1 == 2) }
