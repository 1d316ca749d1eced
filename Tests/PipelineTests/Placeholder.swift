import Testing

@Test func placeholderPipeline() { #expect(1 + 1 == 2) }
