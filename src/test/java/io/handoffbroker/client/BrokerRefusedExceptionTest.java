package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Refused;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A refusal survives Java serialization whole: code, reason, retry hint, details and the
 * {@code Refused} itself, as a caller that sends the exception to another JVM or stores it
 * would read them. The refusals come over real sockets, from a real broker and a scripted one.
 */
class BrokerRefusedExceptionTest {

    @TempDir
    Path dir;

    @Test
    void aRealBrokersRefusalWithDetailsKeepsEveryPartThroughSerialization() throws Exception {
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("backend.sock"))).start()) {
            BrokerRefusedException refused = refusal(() -> new BrokerClient(broker.socketPath()).connect("echo",
                    "2.0.0"));
            assertThat(refused.code()).isEqualTo(ErrorCode.ERROR_BACKEND_SPAWN_FAILED);
            assertThat(refused.details()).containsKey("available_versions");

            assertSameRefusal(roundTrip(refused), refused);
        }
    }

    @Test
    void aRefusalWithARetryHintAndAReasonToSanitiseKeepsThemThroughSerialization() throws Exception {
        Refused sent = Refused.newBuilder().setCode(ErrorCode.ERROR_RATE_LIMITED).setReason("too many\nHellos")
                .setRetryAfterMs(750).putDetails("window_ms", "1000").build();
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> out.write(
                FrameIO.encode(ScriptedBroker.reply(hello.getRequestId(), HelloReply.newBuilder().setRefused(sent)))))) {
            BrokerRefusedException refused = refusal(() -> new BrokerClient(broker.path()).connect("echo", "1.0.0"));

            BrokerRefusedException copy = roundTrip(refused);
            assertSameRefusal(copy, refused);
            assertThat(copy.code()).isEqualTo(ErrorCode.ERROR_RATE_LIMITED);
            assertThat(copy.reason()).isEqualTo("too many?Hellos");
            assertThat(copy.retryAfter()).isEqualTo(Duration.ofMillis(750));
            assertThat(copy.details()).containsExactlyEntriesOf(sent.getDetailsMap());
            assertThat(copy.refused()).isEqualTo(sent);
            assertThat(copy.getMessage()).isEqualTo("ERROR_RATE_LIMITED: too many?Hellos (retry after 750 ms)");
        }
    }

    @Test
    void aStreamWhoseRefusedDoesNotParseIsAnInvalidObjectException() throws Exception {
        String reason = "R".repeat(20);
        Refused sent = Refused.newBuilder().setCode(ErrorCode.ERROR_INTERNAL).setReason(reason).build();
        try (ScriptedBroker broker = ScriptedBroker.start(dir.resolve("broker.sock"), (hello, out) -> out.write(
                FrameIO.encode(ScriptedBroker.reply(hello.getRequestId(), HelloReply.newBuilder().setRefused(sent)))))) {
            byte[] stream = serialized(refusal(() -> new BrokerClient(broker.path()).connect("echo", "1.0.0")));
            // The reason's field in the encoding: tag 0x0a, length 20, then the text. Claiming 127
            // bytes cuts the message short.
            byte[] field = ("\n\u0014" + reason).getBytes(StandardCharsets.ISO_8859_1);
            int at = indexOf(stream, field);
            assertThat(at).as("the encoded Refused in the stream").isNotNegative();
            stream[at + 1] = 0x7f;
            assertThatThrownBy(() -> deserialized(stream)).isInstanceOf(InvalidObjectException.class)
                    .hasMessageStartingWith("the encoded Refused does not parse");
        }
    }

    private interface Call {
        ServiceConnection run() throws IOException;
    }

    private static BrokerRefusedException refusal(Call call) {
        BrokerRefusedException refused = catchThrowableOfType(BrokerRefusedException.class,
                () -> call.run().close());
        assertThat(refused).as("the call was refused").isNotNull();
        return refused;
    }

    private static void assertSameRefusal(BrokerRefusedException copy, BrokerRefusedException original) {
        assertThat(copy.code()).isEqualTo(original.code());
        assertThat(copy.reason()).isEqualTo(original.reason());
        assertThat(copy.retryAfter()).isEqualTo(original.retryAfter());
        assertThat(copy.details()).isEqualTo(original.details());
        assertThat(copy.refused()).isEqualTo(original.refused());
        assertThat(copy.getMessage()).isEqualTo(original.getMessage());
        assertThat(copy.getStackTrace()).isEqualTo(original.getStackTrace());
    }

    private static BrokerRefusedException roundTrip(BrokerRefusedException refused) throws Exception {
        return deserialized(serialized(refused));
    }

    private static byte[] serialized(BrokerRefusedException refused) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(refused);
        }
        return bytes.toByteArray();
    }

    private static BrokerRefusedException deserialized(byte[] stream) throws Exception {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(stream))) {
            return (BrokerRefusedException) in.readObject();
        }
    }

    private static int indexOf(byte[] in, byte[] part) {
        for (int i = 0; i + part.length <= in.length; i++) {
            if (Arrays.equals(in, i, i + part.length, part, 0, part.length)) {
                return i;
            }
        }
        return -1;
    }
}
