package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.handoffbroker.handoff.DeliveryOutcome.Status;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.PayloadEncoding;
import java.security.SecureRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * {@link WireHandoffDelivery#validate}: the ACK checks in protocol order, framing and
 * envelope, then request_id, correlation_id, token, accepted; the first violation
 * decides. Each test breaks a later rule too, so a wrong order would show.
 */
class WireHandoffDeliveryValidateTest {

    private static final long C = 4242;
    private final HandoffToken token = HandoffToken.generate(new SecureRandom());

    private HandoffAck.Builder ack() {
        return HandoffAck.newBuilder().setToken(token.toByteString()).setAccepted(true).setCorrelationId(C);
    }

    private Frame frame(HandoffAck.Builder ack, UnaryOperator<Frame.Builder> change) {
        return change.apply(Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF, C,
                ack.build()).toBuilder()).build();
    }

    private DeliveryOutcome validate(HandoffAck.Builder ack, UnaryOperator<Frame.Builder> change) {
        return WireHandoffDelivery.validate(frame(ack, change), token, C);
    }

    private static HandoffAck.Builder everythingElseWrong(HandoffAck.Builder ack) {
        return ack.setCorrelationId(C + 1).setToken(ByteString.copyFrom(new byte[16])).setAccepted(false);
    }

    @Test
    void aCorrectTimelyAckIsAccepted() {
        DeliveryOutcome outcome = validate(ack(), f -> f);
        assertThat(outcome.status()).isEqualTo(Status.ACCEPTED);
        assertThat(outcome.descriptorReached()).isTrue();
        assertThat(outcome.ackDetail()).isNull();
    }

    @Test
    void aCorrectRefusalIsRefusedWithItsDetail() {
        DeliveryOutcome outcome = validate(ack().setAccepted(false).setErrorDetail("backend at capacity"), f -> f);
        assertThat(outcome.status()).isEqualTo(Status.REFUSED);
        assertThat(outcome.ackDetail()).isEqualTo("backend at capacity");
        assertThat(outcome.detail()).contains("backend at capacity");
        assertThat(validate(ack().setAccepted(false), f -> f).ackDetail()).isEmpty();
    }

    @Test
    void aRefusalsDetailIsBoundedAndFreeOfControlCharactersBeforeItIsLoggedOrRelayed() {
        String forged = "no room\n2026-01-01 INFO forged log line" + "x".repeat(100_000);
        DeliveryOutcome outcome = validate(ack().setAccepted(false).setErrorDetail(forged), f -> f);
        assertThat(outcome.status()).isEqualTo(DeliveryOutcome.Status.REFUSED);
        assertThat(outcome.ackDetail()).startsWith("no room?2026-01-01 INFO forged").hasSizeLessThan(300)
                .doesNotContain("\n");
        assertThat(outcome.detail()).doesNotContain("\n").hasSizeLessThan(320);
    }

    @Test
    void envelopeVersionIsCheckedBeforeAnythingElse() {
        assertThat(validate(everythingElseWrong(ack()), f -> f.setEnvelopeVersion(2).setRequestId(C + 1)).status())
                .isEqualTo(Status.MALFORMED);
    }

    @Test
    void anythingButAResponseIsMalformed() {
        for (FrameKind kind : new FrameKind[] {FrameKind.FRAME_KIND_REQUEST, FrameKind.FRAME_KIND_EVENT,
                FrameKind.FRAME_KIND_CANCEL}) {
            assertThat(validate(everythingElseWrong(ack()), f -> f.setKind(kind).setRequestId(C + 1)).status())
                    .as("%s", kind).isEqualTo(Status.MALFORMED);
        }
        assertThat(validate(ack(), f -> f.setKindValue(9)).status()).as("unknown kind").isEqualTo(Status.MALFORMED);
    }

    @Test
    void anotherPayloadProtocolOrAnEncodingIsMalformed() {
        assertThat(validate(everythingElseWrong(ack()), f -> f.setPayloadProtocol(WireProtocol.PAYLOAD_CONTROL))
                .status()).isEqualTo(Status.MALFORMED);
        assertThat(validate(everythingElseWrong(ack()), f -> f.setPayloadEncoding(
                PayloadEncoding.PAYLOAD_ENCODING_ZSTD)).status()).isEqualTo(Status.MALFORMED);
        assertThat(validate(ack(), f -> f.setPayloadEncodingValue(17)).status()).isEqualTo(Status.MALFORMED);
    }

    @Test
    void anUndecodablePayloadIsMalformedBeforeItsRequestIdIsLookedAt() {
        DeliveryOutcome outcome = validate(ack(),
                f -> f.setPayload(ByteString.copyFrom(new byte[] {0x0A, 0x7F})).setRequestId(C + 1));
        assertThat(outcome.status()).isEqualTo(Status.MALFORMED);
        assertThat(outcome.descriptorReached()).isTrue();
    }

    @Test
    void frameRequestIdIsCheckedBeforeTheAckCorrelationId() {
        DeliveryOutcome outcome = validate(everythingElseWrong(ack()), f -> f.setRequestId(C + 1));
        assertThat(outcome.status()).isEqualTo(Status.CORRELATION_MISMATCH);
        assertThat(outcome.detail()).contains("request_id");
    }

    @Test
    void ackCorrelationIdIsCheckedBeforeTheToken() {
        DeliveryOutcome outcome = validate(everythingElseWrong(ack()), f -> f);
        assertThat(outcome.status()).isEqualTo(Status.CORRELATION_MISMATCH);
        assertThat(outcome.detail()).contains("correlation_id");
    }

    @Test
    void theTokenIsCheckedBeforeAccepted() {
        HandoffAck.Builder refusingWithAnotherToken = ack().setAccepted(false)
                .setToken(ByteString.copyFrom(new byte[16]));
        assertThat(validate(refusingWithAnotherToken, f -> f).status()).isEqualTo(Status.TOKEN_MISMATCH);
    }

    @Test
    void aTokenOfAnotherLengthOrNoneIsAMismatch() {
        ByteString issued = token.toByteString();
        assertThat(validate(ack().setToken(issued.substring(0, 15)), f -> f).status())
                .isEqualTo(Status.TOKEN_MISMATCH);
        assertThat(validate(ack().setToken(issued.concat(ByteString.copyFrom(new byte[1]))), f -> f).status())
                .isEqualTo(Status.TOKEN_MISMATCH);
        assertThat(validate(ack().clearToken(), f -> f).status()).isEqualTo(Status.TOKEN_MISMATCH);
    }

    @Test
    void aZeroCorrelationIsNoWildcard() {
        assertThat(validate(ack().setCorrelationId(0), f -> f).status()).isEqualTo(Status.CORRELATION_MISMATCH);
        assertThat(validate(ack(), f -> f.setRequestId(0)).status()).isEqualTo(Status.CORRELATION_MISMATCH);
    }

    @Test
    void statusesMapToTheOwnershipRuleAndOneAckResult() {
        assertThat(Status.values()).filteredOn(Status::brokerOwnsClient)
                .containsExactlyInAnyOrder(Status.REFUSED, Status.TRANSFER_FAILED);
        assertThat(Status.values()).filteredOn(Status::controlReusable)
                .containsExactlyInAnyOrder(Status.ACCEPTED, Status.REFUSED);
        assertThat(Status.MALFORMED.ackResult()).isEqualTo(AckResult.MALFORMED);
        assertThat(Status.CORRELATION_MISMATCH.ackResult()).isEqualTo(AckResult.CORRELATION_MISMATCH);
        assertThat(Status.TOKEN_MISMATCH.ackResult()).isEqualTo(AckResult.TOKEN_MISMATCH);
        assertThat(Status.CLOSED.ackResult()).isEqualTo(AckResult.MISSING);
        assertThat(Status.LATE.ackResult()).isEqualTo(AckResult.LATE);
        assertThat(Status.DEADLINE_PASSED.ackResult()).as("decided later by the watcher").isNull();
        assertThat(Status.TRANSFER_FAILED.ackResult()).as("never reached the ACK stage").isNull();
    }
}
