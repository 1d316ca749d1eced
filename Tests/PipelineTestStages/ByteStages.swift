// Byte-level stages shared by the engine tests and `pipeline-testbed` (the process the crash tests kill).
import Foundation
import Pipeline

/// A stage failure with a reason code (quarantine unless routed otherwise).
public struct TestFailure: StageFailure {
    public let reasonCode: String
    public let clerkMessage: String
    public var routing: ErrorRouting
    public init(reasonCode: String, clerkMessage: String, routing: ErrorRouting = .quarantine) {
        self.reasonCode = reasonCode; self.clerkMessage = clerkMessage; self.routing = routing
    }
}

/// Hashes the original (streaming SHA-256); names starting with "damaged" are rejected.
public struct ChecksumStage: Stage {
    public static let kind: StageKind = "checksum"
    public static let requires: Set<Fact> = []
    public static let produces: Set<Fact> = [.ingested]
    public init() {}
    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        if job.sourceName.hasPrefix("damaged") { throw TestFailure(reasonCode: "damaged", clerkMessage: "The file is damaged.") }
        job.digest = try SHA256Stream.hexDigest(ofFile: job.originalURL)
        return job
    }
}

/// Rejects names containing "unapproved".
public struct GateStage: Stage {
    public static let kind: StageKind = "gate"
    public static let requires: Set<Fact> = [.ingested]
    public static let produces: Set<Fact> = [.approved]
    public init() {}
    public func process(_ job: Job, context: StageContext) async throws -> Job {
        if job.sourceName.contains("unapproved") { throw TestFailure(reasonCode: "not-approved", clerkMessage: "No approval lists this document.") }
        return job
    }
}
