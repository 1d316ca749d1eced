/// A FIFO with a fixed capacity between two stages: `send` suspends while it is full (back-pressure),
/// `receive` suspends while it is empty and returns nil once it is closed and drained.
actor BoundedQueue<T: Sendable> {
    let capacity: Int
    private var items: [T] = []
    private var head = 0
    private var receivers: [CheckedContinuation<T?, Never>] = []
    private var senders: [(T, CheckedContinuation<Void, Never>)] = []
    private(set) var closed = false

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Items waiting (not counting suspended senders).
    var count: Int { items.count - head }

    /// Enqueues, suspending while the queue is full.
    func send(_ item: T) async {
        precondition(!closed, "send on a closed queue")
        if !receivers.isEmpty { receivers.removeFirst().resume(returning: item); return }
        if count < capacity { items.append(item); return }
        await withCheckedContinuation { senders.append((item, $0)) }
    }

    /// Dequeues, suspending while empty; nil when closed and drained.
    func receive() async -> T? {
        if head < items.count {
            let x = items[head]; head += 1
            if head > 64 && head * 2 > items.count { items.removeFirst(head); head = 0 }
            if !senders.isEmpty { let (item, c) = senders.removeFirst(); items.append(item); c.resume() }
            return x
        }
        if !senders.isEmpty { let (item, c) = senders.removeFirst(); c.resume(); return item }
        if closed { return nil }
        return await withCheckedContinuation { receivers.append($0) }
    }

    /// No more items will come; waiting receivers get nil.
    func close() {
        closed = true
        for r in receivers { r.resume(returning: nil) }
        receivers.removeAll()
    }
}
