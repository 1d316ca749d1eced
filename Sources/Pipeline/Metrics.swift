import CoreMetrics
import Foundation
import Metrics

/// The engine's metric instruments, created once per label set from one factory.
final class PipelineMetrics: @unchecked Sendable {
    let factory: MetricsFactory
    let pipeline: String
    private let lock = NSLock()
    private var counters: [String: Counter] = [:]
    private var timers: [String: Metrics.Timer] = [:]
    private var gauges: [String: Gauge] = [:]

    init(factory: MetricsFactory, pipeline: String) { self.factory = factory; self.pipeline = pipeline }

    private func key(_ label: String, _ dims: [(String, String)]) -> String { label + dims.map { "|\($0.0)=\($0.1)" }.joined() }

    func count(_ label: String, _ dims: [(String, String)] = [], by n: Int = 1) {
        let d = [("pipeline", pipeline)] + dims
        let k = key(label, d)
        lock.lock()
        let c = counters[k] ?? Counter(label: label, dimensions: d, factory: factory)
        counters[k] = c
        lock.unlock()
        c.increment(by: n)
    }

    func time(_ label: String, _ dims: [(String, String)] = [], seconds: Double) {
        let d = [("pipeline", pipeline)] + dims
        let k = key(label, d)
        lock.lock()
        let t = timers[k] ?? Metrics.Timer(label: label, dimensions: d, factory: factory)
        timers[k] = t
        lock.unlock()
        t.recordNanoseconds(Int64(seconds * 1e9))
    }

    func gauge(_ label: String, _ dims: [(String, String)] = [], value: Double) {
        let d = [("pipeline", pipeline)] + dims
        let k = key(label, d)
        lock.lock()
        let g = gauges[k] ?? Gauge(label: label, dimensions: d, factory: factory)
        gauges[k] = g
        lock.unlock()
        g.record(value)
    }
}

/// Receives stage-reported durations and forwards them to the summary and metrics.
final class EventSink: Sendable {
    let summary: SummaryBox
    let metrics: PipelineMetrics
    init(summary: SummaryBox, metrics: PipelineMetrics) { self.summary = summary; self.metrics = metrics }
    func duration(_ name: String, seconds: Double) {
        summary.update { s in
            var t = s.timings[name] ?? TimingFigures()
            t.count += 1; t.seconds += seconds; t.maxSeconds = max(t.maxSeconds, seconds)
            s.timings[name] = t
        }
        metrics.time("sealbatch_timing_seconds", [("name", name)], seconds: seconds)
    }
}

/// An in-memory swift-metrics backend that renders the Prometheus text exposition format.
public final class PrometheusRegistry: MetricsFactory, @unchecked Sendable {
    private let lock = NSLock()
    private var counters: [String: PromCounter] = [:]
    private var gauges: [String: PromGauge] = [:]
    private var histograms: [String: PromHistogram] = [:]

    /// An empty registry.
    public init() {}

    static func name(_ label: String) -> String {
        String(label.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }
    static func labels(_ dims: [(String, String)]) -> String {
        if dims.isEmpty { return "" }
        return "{" + dims.map { "\(name($0.0))=\"\($0.1.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n"))\"" }.joined(separator: ",") + "}"
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> CounterHandler {
        let k = Self.name(label) + Self.labels(dimensions)
        lock.lock(); defer { lock.unlock() }
        if let c = counters[k] { return c }
        let c = PromCounter(name: Self.name(label), labels: Self.labels(dimensions)); counters[k] = c; return c
    }
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> RecorderHandler {
        let k = Self.name(label) + Self.labels(dimensions)
        lock.lock(); defer { lock.unlock() }
        if let g = gauges[k] { return g }
        let g = PromGauge(name: Self.name(label), labels: Self.labels(dimensions)); gauges[k] = g; return g
    }
    public func makeTimer(label: String, dimensions: [(String, String)]) -> TimerHandler {
        let k = Self.name(label) + Self.labels(dimensions)
        lock.lock(); defer { lock.unlock() }
        if let h = histograms[k] { return h }
        let h = PromHistogram(name: Self.name(label), dims: dimensions); histograms[k] = h; return h
    }
    public func destroyCounter(_ handler: CounterHandler) {}
    public func destroyRecorder(_ handler: RecorderHandler) {}
    public func destroyTimer(_ handler: TimerHandler) {}

    /// Prometheus text format (version 0.0.4) of every metric.
    public func render() -> String {
        lock.lock()
        let cs = counters.values.sorted { $0.name + $0.labels < $1.name + $1.labels }
        let gs = gauges.values.sorted { $0.name + $0.labels < $1.name + $1.labels }
        let hs = histograms.values.sorted { $0.name < $1.name }
        lock.unlock()
        var out = ""
        var typed = Set<String>()
        for c in cs {
            if typed.insert(c.name).inserted { out += "# TYPE \(c.name) counter\n" }
            out += "\(c.name)\(c.labels) \(c.value)\n"
        }
        for g in gs {
            if typed.insert(g.name).inserted { out += "# TYPE \(g.name) gauge\n" }
            out += "\(g.name)\(g.labels) \(g.value)\n"
        }
        for h in hs {
            if typed.insert(h.name).inserted { out += "# TYPE \(h.name) histogram\n" }
            out += h.render()
        }
        return out
    }
}

final class PromCounter: CounterHandler, @unchecked Sendable {
    let name: String, labels: String
    private let lock = NSLock(); private var v: Int64 = 0
    init(name: String, labels: String) { self.name = name; self.labels = labels }
    func increment(by n: Int64) { lock.lock(); v += n; lock.unlock() }
    func reset() { lock.lock(); v = 0; lock.unlock() }
    var value: Int64 { lock.lock(); defer { lock.unlock() }; return v }
}

final class PromGauge: RecorderHandler, @unchecked Sendable {
    let name: String, labels: String
    private let lock = NSLock(); private var v: Double = 0
    init(name: String, labels: String) { self.name = name; self.labels = labels }
    func record(_ value: Int64) { record(Double(value)) }
    func record(_ value: Double) { lock.lock(); v = value; lock.unlock() }
    var value: Double { lock.lock(); defer { lock.unlock() }; return v }
}

final class PromHistogram: TimerHandler, @unchecked Sendable {
    static let bounds: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    let name: String, dims: [(String, String)]
    private let lock = NSLock()
    private var buckets = [Int64](repeating: 0, count: PromHistogram.bounds.count)
    private var count: Int64 = 0, sum: Double = 0
    init(name: String, dims: [(String, String)]) { self.name = name; self.dims = dims }
    func recordNanoseconds(_ duration: Int64) {
        let s = Double(duration) / 1e9
        lock.lock()
        for (i, b) in Self.bounds.enumerated() where s <= b { buckets[i] += 1 }
        count += 1; sum += s
        lock.unlock()
    }
    func render() -> String {
        lock.lock(); defer { lock.unlock() }
        var out = ""
        for (i, b) in Self.bounds.enumerated() {
            out += "\(name)_bucket\(PrometheusRegistry.labels(dims + [("le", "\(b)")])) \(buckets[i])\n"
        }
        out += "\(name)_bucket\(PrometheusRegistry.labels(dims + [("le", "+Inf")])) \(count)\n"
        out += "\(name)_sum\(PrometheusRegistry.labels(dims)) \(sum)\n"
        out += "\(name)_count\(PrometheusRegistry.labels(dims)) \(count)\n"
        return out
    }
}
