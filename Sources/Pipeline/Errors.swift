import Foundation

/// How the engine routes a failed document. The default for any error is quarantine.
public enum ErrorRouting: Sendable, Equatable {
    /// Put the untouched original into quarantine with a reason file.
    case quarantine
    /// Try the same stage again (transient trouble, e.g. a busy TSA), then quarantine.
    case retry(maxAttempts: Int, delaySeconds: Double)
    /// Stop taking new documents: the batch cannot continue (e.g. wrong PIN, token locked). Documents
    /// already claimed go back to the inbox untouched (`Stage.returned`) and are claimed again next run.
    case stopBatch
}

/// An error a stage throws to say how the document should be routed and what a clerk should do.
public protocol StageFailure: Error, Sendable {
    /// Stable machine-readable reason code (`not-approved`, `encrypted`, …), used in reason files.
    var reasonCode: String { get }
    /// One sentence a clerk can act on. Never a PIN, never document content.
    var clerkMessage: String { get }
    /// What to do next (shown in `<name>.reason.json`).
    var nextStep: String { get }
    /// Where the engine sends the document.
    var routing: ErrorRouting { get }
}

extension StageFailure {
    public var nextStep: String { "Fix the cause, then copy the original from quarantine back into the inbox." }
    public var routing: ErrorRouting { .quarantine }
}

/// Errors raised by the engine itself (configuration, folders, journal).
public struct PipelineError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Stable error codes.
    public enum Code: String, Sendable {
        case syntax, unknownKey = "unknown-key", missingKey = "missing-key", typeMismatch = "type-mismatch"
        case invalidValue = "invalid-value", unknownStage = "unknown-stage", impossibleOrder = "impossible-order"
        case folder, journal, io, interrupted, crashLoop = "crash-loop", metrics, contentChanged = "content-changed"
    }
    /// The stable code.
    public let code: Code
    /// JSON path (`stages[2].seal`) or file path the error is about.
    public let path: String?
    /// Human description a clerk or administrator can act on.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, path: String? = nil, _ message: String) {
        self.code = code; self.path = path; self.message = message
    }

    public var description: String {
        if let path, !path.isEmpty { return "\(path): \(message)" }
        return message
    }
}

/// A failure raised by the engine for a document (e.g. a stage crashing the process repeatedly).
public struct EngineFailure: StageFailure {
    public let reasonCode: String
    public let clerkMessage: String
    public let nextStep: String
    public var routing: ErrorRouting { .quarantine }
    /// Creates a failure with a code, message and next step.
    public init(code: String, message: String, nextStep: String) {
        self.reasonCode = code; self.clerkMessage = message; self.nextStep = nextStep
    }
}
