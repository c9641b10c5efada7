package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.PayloadEncoding;
import io.handoffbroker.wire.proto.Refused;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Shared assertions and bounded waits of the listener's socket-level tests. */
final class ListenerTestSupport {

    static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    static final String TRACESTATE = "vendor=x";

    private ListenerTestSupport() {
    }

    /** A Hello frame carrying a request_id and W3C trace context, so replies can be checked for the echo. */
    static Frame tracedHelloFrame(Hello hello, long requestId) {
        return RawClient.helloFrame(hello, requestId).toBuilder()
                .setTraceparent(TRACEPARENT)
                .setTracestate(TRACESTATE)
                .build();
    }

    /** Checks the reply envelope of a Hello: v1, RESPONSE, control payload, no encoding. */
    static HelloReply helloReplyIn(Frame reply) {
        assertThat(reply.getEnvelopeVersion()).as("reply envelope_version").isEqualTo(1);
        assertThat(reply.getKind()).as("reply kind").isEqualTo(FrameKind.FRAME_KIND_RESPONSE);
        assertThat(reply.getPayloadProtocol()).as("reply payload_protocol").isEqualTo(WireProtocol.PAYLOAD_CONTROL);
        assertThat(reply.getPayloadEncoding()).as("reply payload_encoding")
                .isEqualTo(PayloadEncoding.PAYLOAD_ENCODING_NONE);
        try {
            return HelloReply.parseFrom(reply.getPayload());
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("reply payload is not a HelloReply", e);
        }
    }

    /** The reply echoes the Hello frame's request_id, traceparent and tracestate. */
    static void assertEchoes(Frame reply, Frame request) {
        assertThat(reply.getRequestId()).as("echoed request_id").isEqualTo(request.getRequestId());
        assertThat(reply.getTraceparent()).as("echoed traceparent").isEqualTo(request.getTraceparent());
        assertThat(reply.getTracestate()).as("echoed tracestate").isEqualTo(request.getTracestate());
    }

    /** The reply of a refusal where no frame could be decoded: request_id 0, no trace context. */
    static void assertNoEcho(Frame reply) {
        assertThat(reply.getRequestId()).as("request_id of a reply to an undecodable frame").isZero();
        assertThat(reply.getTraceparent()).as("traceparent").isEmpty();
        assertThat(reply.getTracestate()).as("tracestate").isEmpty();
    }

    /** Checks the refusal's code and the daemon's protocol range (always 1..1), returns it for more checks. */
    static Refused assertRefused(Frame reply, ErrorCode code) {
        HelloReply helloReply = helloReplyIn(reply);
        assertThat(helloReply.getResultCase()).as("HelloReply result of %s", helloReply)
                .isEqualTo(HelloReply.ResultCase.REFUSED);
        Refused refused = helloReply.getRefused();
        assertThat(refused.getCode()).as("refusal code of %s", refused).isEqualTo(code);
        assertThat(refused.getDaemonMinProtocol()).as("daemon_min_protocol").isEqualTo(1);
        assertThat(refused.getDaemonMaxProtocol()).as("daemon_max_protocol").isEqualTo(1);
        assertThat(refused.getReason()).as("a short human reason").isNotBlank();
        return refused;
    }

    static Negotiated assertNegotiated(Frame reply) {
        HelloReply helloReply = helloReplyIn(reply);
        assertThat(helloReply.getResultCase()).as("HelloReply result of %s", helloReply)
                .isEqualTo(HelloReply.ResultCase.NEGOTIATED);
        return helloReply.getNegotiated();
    }

    /** The broker closed the connection: the next read ends the stream (or is reset) within the read timeout. */
    static void assertClosedByBroker(RawClient client) throws IOException {
        assertThat(client.isClosedByPeer()).as("the broker closed the connection after its reply").isTrue();
    }

    /**
     * Reads until the broker closes the connection and returns how many bytes came.
     * A reset counts as the close it is.
     */
    static int bytesUntilClosed(InputStream in) throws IOException {
        int count = 0;
        byte[] buffer = new byte[4096];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                count += n;
            }
        } catch (SocketException reset) {
            // ECONNRESET: closed with our unread bytes in its queue; still a close.
        }
        return count;
    }

    /** Polls {@code condition} every few milliseconds and fails once {@code timeout} passed without it. */
    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after %d ms waiting for %s", timeout.toMillis(), what);
            }
            Thread.sleep(5);
        }
    }
}
