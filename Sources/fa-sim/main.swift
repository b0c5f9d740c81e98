// fa-sim: a FlashArray REST 2.x simulator for tests (HTTPS on loopback, optional tgt data path).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

let usage = """
usage: fa-sim --cert PEM --key PEM (--api-token TOKEN | --api-token-file FILE) [options]
  --host ADDR            listen address (default 127.0.0.1)
  --port N               listen port (default 0: any free port)
  --array-name NAME      array name (default fa-sim)
  --array-id UUID        array id (also seeds volume serials)
  --target-iqn IQN       the array's iSCSI target IQN
  --iscsi-port NAME=IP:PORT   an iSCSI port (repeatable; default CT0.ETH4=127.0.0.1:3260, CT1.ETH4=127.0.0.2:3260)
  --fc-port NAME=WWN     an FC port (repeatable)
  --versions LIST        REST versions offered (default 2.0..2.36)
  --tgt DIR              bind volumes to tgt (tgtd must run): backing files in DIR
  --tgt-tid N            tgt target id (default 1)
  --tgt-control-port N   tgtd management port (tgtd -C N), for a private tgtd
  --log-requests         print every request and the status it got on stderr
Prints "fa-sim listening on PORT" on stdout when ready; stops on SIGTERM/SIGINT or stdin EOF with --stdin-eof.
"""

func fail(_ msg: String) -> Never {
    FileHandle.standardError.write(Data("fa-sim: \(msg)\n\(usage)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
var opt = SimState.Options()
var host = "127.0.0.1", port = 0
var cert: String?, key: String?
var tgtDir: String?, tgtTid = 1, tgtControl: Int?
var stdinEOF = false
var customISCSI: [(String, String)] = [], customFC: [(String, String)] = []
func pair(_ s: String) -> (String, String) {
    guard let eq = s.firstIndex(of: "=") else { fail("expected NAME=VALUE, got '\(s)'") }
    return (String(s[..<eq]), String(s[s.index(after: eq)...]))
}
while !args.isEmpty {
    let a = args.removeFirst()
    func val() -> String { guard !args.isEmpty else { fail("\(a) needs a value") }; return args.removeFirst() }
    switch a {
    case "--host": host = val()
    case "--port": port = Int(val()) ?? { fail("bad --port") }()
    case "--cert": cert = val()
    case "--key": key = val()
    case "--api-token": opt.apiToken = val()
    case "--api-token-file":
        let f = val()
        guard let t = try? String(contentsOfFile: f, encoding: .utf8) else { fail("cannot read \(f)") }
        opt.apiToken = t.trimmingCharacters(in: .whitespacesAndNewlines)
    case "--array-name": opt.arrayName = val()
    case "--array-id": opt.arrayID = val()
    case "--target-iqn": opt.targetIQN = val()
    case "--iscsi-port": customISCSI.append(pair(val()))
    case "--fc-port": customFC.append(pair(val()))
    case "--versions": opt.versions = val().split(separator: ",").map(String.init)
    case "--tgt": tgtDir = val()
    case "--tgt-tid": tgtTid = Int(val()) ?? 1
    case "--tgt-control-port": tgtControl = Int(val())
    case "--stdin-eof": stdinEOF = true
    case "--log-requests": opt.logRequests = true
    case "-h", "--help": print(usage); exit(0)
    default: fail("unknown option \(a)")
    }
}
guard let cert, let key else { fail("--cert and --key are required (the simulator speaks HTTPS only)") }
guard !opt.apiToken.isEmpty else { fail("an API token is required") }
if !customISCSI.isEmpty || !customFC.isEmpty { opt.iscsiPorts = customISCSI; opt.fcPorts = customFC }
if let tgtDir {
    let t = TgtBinding(tid: tgtTid, targetIQN: opt.targetIQN, dir: tgtDir, controlPort: tgtControl, enabled: true)
    guard t.setup() else { fail("could not create tgt target \(tgtTid) (is tgtd running, and are we root?)") }
    opt.tgt = t
}
let state = SimState(opt)

let tls: TLSConfiguration
do {
    tls = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
} catch { fail("cannot load TLS certificate/key: \(error)") }
let sslContext: NIOSSLContext
do { sslContext = try NIOSSLContext(configuration: tls) } catch { fail("TLS: \(error)") }

final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let state: SimState
    var head: HTTPRequestHead?
    var body = Data()
    init(state: SimState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h; body = Data()
        case .body(var b): if let bytes = b.readBytes(length: b.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard let h = head else { return }
            let r = state.handle(method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) }, body: body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(r.body.count)")
            headers.add(name: "x-request-id", value: h.headers.first(name: "x-request-id") ?? UUID().uuidString.lowercased())
            for (k, v) in r.headers { headers.add(name: k, value: v) }
            let respHead = HTTPResponseHead(version: h.version, status: HTTPResponseStatus(statusCode: r.status), headers: headers)
            context.write(wrapOutboundOut(.head(respHead)), promise: nil)
            var buf = context.channel.allocator.buffer(capacity: r.body.count)
            buf.writeBytes(r.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            let keepAlive = h.isKeepAlive
            let ch = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { ch.close(promise: nil) }
            }
            head = nil
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.backlog, value: 256)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(HTTPHandler(state: state))
        }
    }
let channel: Channel
do { channel = try bootstrap.bind(host: host, port: port).wait() } catch { fail("cannot listen on \(host):\(port): \(error)") }
FileHandle.standardOutput.write(Data("fa-sim listening on \(channel.localAddress?.port ?? port)\n".utf8))

@Sendable func stop() -> Never {
    state.lock.lock()
    state.opt.tgt?.teardown()
    state.lock.unlock()
    exit(0)
}
signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN)
let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
    let s = DispatchSource.makeSignalSource(signal: sig, queue: .main)
    s.setEventHandler { stop() }
    s.resume()
    return s
}
if stdinEOF {
    Thread.detachNewThread {
        _ = FileHandle.standardInput.readDataToEndOfFile()
        stop()
    }
}
_ = sources
dispatchMain()
