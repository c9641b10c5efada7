package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertClosedByBroker;
import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Refused;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every invalid golden vector of wire-v1-vectors.json, sent as the first bytes of
 * a real client connection: the broker answers the refusal its {@code expect}
 * names and closes, and keeps serving valid Hellos afterwards.
 */
class InvalidVectorsOverSocketTest {

    private static final Pattern CODE = Pattern.compile("ERROR_[A-Z_]+");
    private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern QUOTED_REASON = Pattern.compile("'([^']*)'");

    /** An invalid vector and what the broker must answer it with. */
    record InvalidVector(String name, byte[] bytes, String expect, ErrorCode code, @Nullable String reason,
            @Nullable String reasonContains) {
        @Override
        public String toString() {
            return name + " -> " + code + (reason == null ? "" : " '" + reason + "'");
        }

        /** truncated_body ends in EOF: the client half-closes so the broker sees the stream end. */
        boolean endsWithEof() {
            return name.equals("truncated_body");
        }
    }

    @TempDir
    static Path dir;

    private static BrokerFixture broker;

    @BeforeAll
    static void startBroker() throws IOException {
        broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                // Far beyond the test's waits: every refusal here must come from the bytes, not the deadline.
                .helloTimeout(HELLO_TIMEOUT)
                .start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    static List<InvalidVector> invalidVectors() {
        List<InvalidVector> out = new ArrayList<>();
        for (JsonNode v : vectorsJson().required("vectors").values()) {
            if (v.required("valid").asBoolean()) {
                continue;
            }
            String name = v.required("name").asString();
            String expect = v.required("expect").asString();
            byte[] bytes = HexFormat.of().parseHex(v.required("framed_hex").asString());
            out.add(expectationOf(name, bytes, expect));
        }
        return out;
    }

    static byte[] validHelloBytes() {
        for (JsonNode v : vectorsJson().required("vectors").values()) {
            if (v.required("name").asString().equals("hello_minimal")) {
                return HexFormat.of().parseHex(v.required("framed_hex").asString());
            }
        }
        throw new AssertionError("no hello_minimal vector");
    }

    /**
     * Reads the reaction from the vector's {@code expect}: the ERROR_ code and the
     * quoted reason. The vectors whose {@code expect} names no refusal get theirs
     * from wire-v1.md §1, for a client's first frame.
     */
    private static InvalidVector expectationOf(String name, byte[] bytes, String expect) {
        switch (name) {
            case "frame_too_large":
                // As a client's FIRST frame the 64 KiB Hello cap applies, not the 16 MiB one.
                return new InvalidVector(name, bytes, expect, ErrorCode.ERROR_PEER_REJECTED,
                        "initial Hello frame exceeds 64 KiB", null);
            case "empty_frame":
                // "envelope validation fails: envelope_version is not 1": PEER_REJECTED (malformed frame).
                return new InvalidVector(name, bytes, expect, ErrorCode.ERROR_PEER_REJECTED, null,
                        "envelope_version");
            case "bad_framing_byte":
                // The reason is in the framing table of wire-v1.md §1.
                return new InvalidVector(name, bytes, expect, ErrorCode.ERROR_VERSION_UNSUPPORTED,
                        "unsupported framing version", null);
            default:
                Matcher code = CODE.matcher(expect);
                if (!code.find()) {
                    throw new AssertionError("invalid vector " + name + " has an expect this test cannot read: "
                            + expect);
                }
                Matcher reason = QUOTED_REASON.matcher(expect);
                return new InvalidVector(name, bytes, expect, ErrorCode.valueOf(code.group()),
                        reason.find() ? reason.group(1) : null, null);
        }
    }

    private static JsonNode vectorsJson() {
        try (InputStream in = InvalidVectorsOverSocketTest.class.getResourceAsStream("/wire-v1-vectors.json")) {
            if (in == null) {
                throw new AssertionError("wire-v1-vectors.json is not on the test classpath");
            }
            return JsonMapper.shared().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The request_id the reply must echo: the vector's, if its bytes decode to a frame at all, else 0. */
    private static long echoedRequestId(byte[] bytes) {
        try {
            return FrameIO.read(new ByteArrayInputStream(bytes), FrameLimit.HELLO).getRequestId();
        } catch (IOException undecodable) {
            return 0;
        }
    }

    private static void assertRejectedOverASocket(InvalidVector vector) throws IOException {
        try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
            assertThat(client.send(vector.bytes(), Duration.ofSeconds(2))).as("the vector's bytes went out").isTrue();
            long eofAt = 0;
            if (vector.endsWithEof()) {
                // The frame is incomplete: the broker waits for the rest, without a reply ...
                assertThat(client.staysSilentFor(Duration.ofMillis(150)))
                        .as("no reply while the frame may still complete").isTrue();
                // ... until the stream ends mid-frame; the socket is still writable for the refusal.
                client.shutdownOutput();
                eofAt = System.nanoTime();
            }
            UnixChannelClient.Received received = client.readUntilClosed(Duration.ofSeconds(5));
            if (vector.endsWithEof()) {
                assertThat(Duration.ofNanos(System.nanoTime() - eofAt))
                        .as("answered on end of stream, not at the %s ms Hello deadline", HELLO_TIMEOUT.toMillis())
                        .isLessThan(Duration.ofSeconds(2));
            }
            assertThat(received.closed()).as("the broker closed the connection after its reply").isTrue();
            ByteArrayInputStream in = new ByteArrayInputStream(received.bytes());
            Frame reply = FrameIO.read(in, FrameLimit.ANY);
            assertThat(in.available()).as("bytes after the one reply frame").isZero();

            Refused refused = assertRefused(reply, vector.code());
            if (vector.reason() != null) {
                assertThat(refused.getReason()).as("reason for %s (expect: %s)", vector.name(), vector.expect())
                        .isEqualTo(vector.reason());
            }
            if (vector.reasonContains() != null) {
                assertThat(refused.getReason()).as("reason for %s (expect: %s)", vector.name(), vector.expect())
                        .contains(vector.reasonContains());
            }
            assertThat(refused.getRetryAfterMs()).isZero();
            assertThat(reply.getRequestId()).as("request_id echo").isEqualTo(echoedRequestId(vector.bytes()));
        }
    }

    @Test
    void theVectorFileHasElevenInvalidVectorsAllWithAnExpectation() {
        assertThat(invalidVectors()).hasSize(11)
                .allSatisfy(v -> assertThat(v.expect()).isNotBlank());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidVectors")
    void invalidVectorAsTheFirstBytesOfAConnectionIsRefusedAndClosed(InvalidVector vector) throws Exception {
        assertRejectedOverASocket(vector);
    }

    @Test
    void brokerStillServesAValidHelloOnANewConnectionAfterEachRejectedOne() throws Exception {
        byte[] validHello = validHelloBytes();
        for (InvalidVector vector : invalidVectors()) {
            assertRejectedOverASocket(vector);
            try (RawClient client = broker.connect()) {
                Frame reply = client.send(validHello).readFrame();
                assertThat(reply.getRequestId()).isEqualTo(7);
                assertThat(assertNegotiated(reply).getBackendPipe())
                        .as("a valid Hello after %s", vector.name()).isEqualTo(dir.resolve("echo.sock").toString());
                assertClosedByBroker(client);
            } catch (AssertionError | IOException e) {
                fail("the broker did not serve a valid Hello after rejecting " + vector.name(), e);
            }
        }
        await("every rejected connection to be released", Duration.ofSeconds(5),
                () -> broker.server().openConnections() == 0);
        assertThat(broker.server().isAccepting()).isTrue();
    }
}
