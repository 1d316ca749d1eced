import Foundation

/// The threads the pipeline's stage workers run on.
///
/// Stage work blocks: fsync, SQLite commits (journal, registry, audit log), file copies, PKCS#11 calls.
/// On Swift's cooperative pool (one thread per core: two on a small server) every blocking call stops
/// half of all progress, and the pipeline ran at 1.3 of 2 cores with work waiting. The workers run
/// on this executor instead (`addTask(executorPreference:)`), so a blocked thread leaves others free.
/// Actor-isolated code (the token actor) still runs serialized on its actor.
public final class WorkerPool: TaskExecutor, @unchecked Sendable {
    /// One pool per process, sized for blocking work: twice the cores plus two, at least 6.
    public static let shared = WorkerPool(threads: max(6, 2 * ProcessInfo.processInfo.activeProcessorCount + 2))

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0
    public let threads: Int

    public init(threads: Int) {
        self.threads = threads
        for i in 0..<threads {
            let t = Thread { [unowned self] in self.run() }
            t.name = "sealbatch.worker.\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count { condition.wait() }
            let job = jobs[head]
            head += 1
            if head > 1024, head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
