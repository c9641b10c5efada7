package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Refused;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RefusalsTest {

    @Test
    void aRefusalCarriesTheDaemonProtocolRangeCodeReasonRetryAndDetails() {
        Refused r = Refusals.refused(ErrorCode.ERROR_RATE_LIMITED, "rate limited", 250, Map.of("peer_pid", "4242"));
        assertThat(r.getDaemonMinProtocol()).isEqualTo(1);
        assertThat(r.getDaemonMaxProtocol()).isEqualTo(1);
        assertThat(r.getCode()).isEqualTo(ErrorCode.ERROR_RATE_LIMITED);
        assertThat(r.getReason()).isEqualTo("rate limited");
        assertThat(r.getRetryAfterMs()).isEqualTo(250);
        assertThat(r.getDetailsMap()).containsExactly(Map.entry("peer_pid", "4242"));
        assertThat(Refusals.refused(ErrorCode.ERROR_INTERNAL, "x", 0).getDetailsMap()).isEmpty();
    }

    @Test
    void aWireViolationMapsToItsCodeAndReasonWithoutRetry() {
        Refused framing = Refusals.of(new UnsupportedFramingException(2));
        assertThat(framing.getCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
        assertThat(framing.getReason()).isEqualTo("unsupported framing version");
        assertThat(framing.getRetryAfterMs()).isZero();

        Refused tooLong = Refusals.of(new FrameTooLongException(65_537, FrameLimit.HELLO));
        assertThat(tooLong.getCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        assertThat(tooLong.getReason()).isEqualTo("initial Hello frame exceeds 64 KiB");

        Refused incomplete = Refusals.of(new IncompleteFrameException(true, 3, -1));
        assertThat(incomplete.getCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        assertThat(incomplete.getReason()).isEqualTo("incomplete Hello frame");
    }

    @Test
    void replyWrapsTheRefusalInAHelloReply() {
        Refused r = Refusals.refused(ErrorCode.ERROR_SHUTTING_DOWN, "draining", 1000);
        HelloReply reply = Refusals.reply(r);
        assertThat(reply.getResultCase()).isEqualTo(HelloReply.ResultCase.REFUSED);
        assertThat(reply.getRefused()).isEqualTo(r);
    }
}
