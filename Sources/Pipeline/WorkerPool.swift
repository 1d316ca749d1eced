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
    /// Two FIFO lanes: jobs of tasks at `.high` priority or above (the sign stage, which holds the one
    /// token) run before everything else, so the serialized token is never kept waiting behind CPU work.
    private var urgent = Lane()
    private var normal = Lane()

    struct Lane {
        var jobs: [UnownedJob] = []
        var head = 0
        var isEmpty: Bool { head == jobs.count }
        mutating func push(_ j: UnownedJob) { jobs.append(j) }
        mutating func pop() -> UnownedJob {
            let j = jobs[head]
            head += 1
            if head > 1024, head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
            return j
        }
    }
    public let threads: Int

    /// `threads` general threads at a lower CPU priority (nice +5) and `urgentThreads` at normal priority
    /// that run only urgent jobs. On two cores the CPU-heavy stages would otherwise starve the one
    /// serialized token path, which then sets the pace of the whole pipeline.
    public init(threads: Int, urgentThreads: Int = 2) {
        self.threads = threads
        for i in 0..<urgentThreads {
            let t = Thread { [unowned self] in self.run(urgentOnly: true) }
            t.name = "sealbatch.urgent.\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
        for i in 0..<threads {
            let t = Thread { [unowned self] in
                // Linux: nice is per thread, and PRIO_PROCESS with id 0 means the calling thread.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5)
                self.run(urgentOnly: false)
            }
            t.name = "sealbatch.worker.\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let isUrgent = job.priority.rawValue >= JobPriority(TaskPriority.high).rawValue
        let unowned = UnownedJob(job)
        condition.lock()
        if isUrgent { urgent.push(unowned) } else { normal.push(unowned) }
        condition.broadcast() // urgent-only threads must not swallow the wake-up of a normal job
        condition.unlock()
    }

    private func run(urgentOnly: Bool) {
        while true {
            condition.lock()
            while urgent.isEmpty && (urgentOnly || normal.isEmpty) { condition.wait() }
            let job = urgent.isEmpty ? normal.pop() : urgent.pop()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
