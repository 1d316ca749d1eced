import Testing

@Test func placeholderToken() { #expect(1 + 1 == 2) }
