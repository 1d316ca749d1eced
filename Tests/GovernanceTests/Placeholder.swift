import Testing

@Test func placeholderGovernance() { #expect(1 + 1 == 2) }
