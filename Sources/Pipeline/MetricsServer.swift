#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A tiny HTTP/1.0 responder on 127.0.0.1 serving `GET /metrics` in Prometheus text format.
public final class MetricsServer: @unchecked Sendable {
    /// The bound port (useful when 0 was asked for).
    public let port: Int
    private let fd: Int32
    private let registry: PrometheusRegistry
    private var thread: Thread?
    private let lock = NSLock()
    private var stopped = false

    /// Binds 127.0.0.1:`port` (0 = any free port) and starts serving on a background thread.
    public init(port: Int, registry: PrometheusRegistry) throws {
        self.registry = registry
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw PipelineError(.metrics, "cannot create metrics socket: \(FileOps.errnoString())") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0, listen(s, 16) == 0 else {
            let e = FileOps.errnoString(); close(s)
            throw PipelineError(.metrics, path: "metrics.port", "cannot listen on 127.0.0.1:\(port): \(e)")
        }
        var bound = sockaddr_in(); var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        self.port = Int(UInt16(bigEndian: bound.sin_port))
        self.fd = s
        let t = Thread { [unowned self] in self.serve() }
        t.name = "sealbatch.metrics"
        thread = t
        t.start()
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                lock.lock(); let s = stopped; lock.unlock()
                if s { return }
                if errno == EINTR { continue }
                return
            }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(c, &buf, buf.count)
            let request = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
            let firstLine = request.split(separator: "\r\n").first.map(String.init) ?? ""
            let response: String
            if firstLine.hasPrefix("GET /metrics") {
                let body = registry.render()
                response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            } else {
                let body = "not found; try /metrics\n"
                response = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            }
            let bytes = Array(response.utf8)
            var off = 0
            while off < bytes.count {
                let w = bytes[off...].withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                if w <= 0 { break }
                off += w
            }
            close(c)
        }
    }

    /// Stops serving.
    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
