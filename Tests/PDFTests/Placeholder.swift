import Testing

@Test func placeholderPDF() { #expect(1 + 1 == 2) }
