import Foundation

/// The threads the pipeline's stage workers run on.
///
/// Stage work blocks: fsync, SQLite commits (journal, registry, audit log), file copies. On Swift's
/// cooperative pool (one thread per core: two on a small server) every blocking call stops half of all
/// progress, and the pipeline ran at 1.3 of 2 cores with work waiting. The workers run on this executor
/// instead (`addTask(executorPreference:)`), so a blocked thread leaves others free.
///
/// The threads run at nice +5. The serialized stage (the one token) stays on the cooperative pool at
/// normal priority, so on two cores the CPU-heavy stages cannot starve the token path, which sets the
/// pace of the whole pipeline.
public final class WorkerPool: TaskExecutor, @unchecked Sendable {
    /// One pool per process, sized for blocking work: four times the cores plus four, at least 8 (on 2
    /// cores, 12 threads delivered ~8 % more than 6: fewer moments with every thread waiting on a flush);
    /// `SEALBATCH_WORKER_THREADS` overrides it (2…256).
    public static let shared = WorkerPool(threads: defaultThreads(ProcessInfo.processInfo.environment))

    static func defaultThreads(_ env: [String: String]) -> Int {
        if let s = env["SEALBATCH_WORKER_THREADS"], let n = Int(s), (2...256).contains(n) { return n }
        return max(8, 4 * ProcessInfo.processInfo.activeProcessorCount + 4)
    }

    /// The nice value of the pool's threads.
    public static let niceness: Int32 = 5

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0
    public let threads: Int

    public init(threads: Int) {
        self.threads = threads
        for i in 0..<threads {
            let t = Thread { [unowned self] in
                // Linux: nice is per thread, and PRIO_PROCESS with id 0 means the calling thread.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
                self.run()
            }
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
