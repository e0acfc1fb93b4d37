import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with an interim 100 Continue, so that a STOW-RS client that waits for it
/// (curl does, for a second, before a large body) sends its body at once. The request goes on to the router
/// without the expectation; its final status is decided there as usual (RFC 9110 §10.1.1 lets a server send
/// 100 even when the final answer is an error).
final class ExpectContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard case var .head(request) = part,
              let expectation = request.headerFields[.expect], expectation.lowercased() == "100-continue" else {
            context.fireChannelRead(data)
            return
        }
        request.headerFields[.expect] = nil
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        context.fireChannelRead(wrapInboundOut(.head(request)))
    }
}
