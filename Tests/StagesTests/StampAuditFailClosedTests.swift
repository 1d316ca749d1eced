import Foundation
import Governance
import Pipeline
import Stages
import TestSupport
import Testing

/// Issue #13 item 3 at the moment of stamping: a use whose audit record cannot be written does not happen.
@Suite(.serialized) struct StampAuditFailClosedTests {
    /// The stamp itself cannot be audited (the registry refuses exactly the `stamp` record, as a registry
    /// that turns read-only at that moment would): the signed copy is not delivered, the document is not
    /// quarantined (not its fault), its approval use is given back, and once the registry takes records
    /// again the same files are sealed, each with one `stamp` record.
    @Test func aStampWhoseAuditRecordCannotBeWrittenIsNotDelivered() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), try TestSupport.haveTool("sqlite3") else { return }
        let world = try SealWorld()
        let binding = SealKeyBindingTests()
        let (root, cfg, files) = try binding.pipeline(world, name: "stamp-unaudited", count: 2, tokenConfig: world.token.directory.appendingPathComponent("token.json"))
        func sqlite(_ sql: String) throws {
            let r = try TestSupport.run("sqlite3", [world.registryPath, sql])
            #expect(r.status == 0, "\(r.err)")
        }
        try sqlite("CREATE TRIGGER test_refuse_stamp BEFORE INSERT ON audit WHEN NEW.action = 'stamp' BEGIN SELECT RAISE(ABORT, 'read-only'); END;")
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        let first = try await binding.engine(config).0.run(mode: .once)
        #expect(first.delivered == 0, "\(first.table())")
        #expect(first.quarantinedTotal == 0, "\(first.table())")
        #expect(first.stoppedBecause?.contains("audit-unavailable") == true, "\(first.stoppedBecause ?? "-")")
        #expect(first.exitCode != 0)
        #expect(listing(root.appendingPathComponent("outbox")).isEmpty, "nothing delivered without its stamp record")
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
        #expect(listing(root.appendingPathComponent("inbox")) == files.map(\.lastPathComponent))
        #expect(try world.registry.audit.query(AuditQuery(action: "stamp")).isEmpty)
        #expect(try world.book.list().allSatisfy { try world.book.show($0.id)?.1.isEmpty == true }, "the uses were given back")
        try sqlite("DROP TRIGGER test_refuse_stamp;")
        let second = try await binding.engine(config).0.run(mode: .once)
        #expect(second.delivered == 2, "\(second.table())")
        #expect(try world.registry.audit.query(AuditQuery(action: "stamp")).count == 2)
        #expect(try world.registry.audit.verify().ok)
    }
}
