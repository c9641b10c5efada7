package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.handoff.ScriptedHandoffBackend;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.PrometheusSamples;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.HandoffToken;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The handoff token is a one-time secret: whoever reads it could answer an offer in
 * the backend's place. The application runs with every {@code io.handoffbroker}
 * logger at TRACE, in the text format and in ECS (which also renders key-value
 * pairs the text pattern leaves out); successful handoffs (the demo's SDK backend
 * and a scripted one) and every failing ACK kind go through it; then no rendering
 * of any token used appears anywhere in the captured console output, nor in the
 * actuator's responses.
 */
@ExtendWith(OutputCaptureExtension.class)
class TokensNeverLoggedTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} logs")
    @ValueSource(strings = {"text", "ecs"})
    void noTokenAppearsInTheLogsOrTheActuator(String format, CapturedOutput output) throws Exception {
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path endpoint = dir.resolve("h").resolve("ho.sock");
        List<String> args = new ArrayList<>(FaultScenario.brokerArgs(pipe, endpoint));
        args.add("--logging.level.io.handoffbroker=TRACE");
        if (!format.equals("text")) {
            args.add("--logging.structured.format.console=" + format);
        }
        Map<String, byte[]> tokens = new LinkedHashMap<>();
        List<Long> connectionIds = new ArrayList<>();
        StringBuilder actuator = new StringBuilder();
        try (ScriptedHandoffBackend backend = new ScriptedHandoffBackend(endpoint).start();
                BackendServer _ = new BackendServer(pipe, new EchoHandler(), 64).start();
                RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                        args.toArray(String[]::new))) {
            // The demo service: the SDK's handoff listener as the backend.
            BrokerClient client = new BrokerClient(broker.socket());
            for (int i = 0; i < 2; i++) {
                try (ServiceConnection connection = client.connect("echo", "1.0.0")) {
                    assertEquals(Route.HANDED_OFF, connection.route(), connection.fallbackReason());
                    assertEquals("demo", HandoffFixture.echo(connection.socket(), "demo"));
                    tokens.put("demo " + i, connection.negotiated().getHandlePassedToken().toByteArray());
                    connectionIds.add(connection.connectionId());
                }
            }
            FaultScenario scenario = new FaultScenario(broker.socket(), backend);
            scenario.refusedHellos();
            for (FaultScenario.Attempt attempt : scenario.handoffs()) {
                tokens.put(attempt.fault(), attempt.token());
                connectionIds.add(attempt.connectionId());
            }
            // What the scripted backend received is what the clients were given.
            List<byte[]> offered = backend.exchanges().stream().map(e -> e.tokenBytes).toList();
            assertEquals(6, offered.size());
            for (byte[] token : offered) {
                assertTrue(tokens.values().stream().anyMatch(t -> Arrays.equals(t, token)),
                        "a token the backend received was given to a client");
            }
            // Every verdict is in (the late one comes during the grace period) before looking.
            assertTrue(RecordingHandoffEvents.awaitTrue(() -> {
                try {
                    return PrometheusSamples.parse(broker.scrape())
                            .sum("running_process_broker_v1_handoff_acks_total") >= 8;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, Duration.ofSeconds(8)), "every ACK verdict reported");
            for (String path : List.of("/actuator/prometheus", "/actuator/broker", "/actuator/health")) {
                actuator.append(broker.get(path).body()).append('\n');
            }
            backend.releaseHeldDescriptors();
        }

        assertEquals(8, tokens.size());
        for (byte[] token : tokens.values()) {
            assertEquals(HandoffToken.LENGTH, token.length, "every attempt was given a token");
        }
        // The capture did see the broker's per-Hello and per-handoff lines of these very connections.
        String logs = output.toString();
        for (long id : connectionIds) {
            String field = format.equals("text") ? "connection_id=" + id + " " : "\"connection_id\":" + id + ",";
            assertTrue(logs.contains(field), () -> "no log line of connection " + id + " in the capture");
        }
        assertTrue(logs.contains("ACK echoes another token"), "the token mismatch was logged");

        for (Map.Entry<String, byte[]> token : tokens.entrySet()) {
            for (Map.Entry<String, String> rendering : renderings(token.getValue()).entrySet()) {
                assertFalse(logs.contains(rendering.getValue()), () -> "the token of the " + token.getKey()
                        + " handoff appears in the logs, as " + rendering.getKey());
                assertFalse(actuator.toString().contains(rendering.getValue()), () -> "the token of the "
                        + token.getKey() + " handoff appears in an actuator response, as " + rendering.getKey());
            }
        }
    }

    /** Every way a token could be written out: whole, and each half in hex (a truncated rendering). */
    private static Map<String, String> renderings(byte[] token) {
        Map<String, String> r = new LinkedHashMap<>();
        r.put("hex", HexFormat.of().formatHex(token));
        r.put("upper-case hex", HexFormat.of().withUpperCase().formatHex(token));
        r.put("colon-separated hex", HexFormat.ofDelimiter(":").formatHex(token));
        r.put("space-separated hex", HexFormat.ofDelimiter(" ").formatHex(token));
        r.put("first half in hex", HexFormat.of().formatHex(token, 0, 8));
        r.put("second half in hex", HexFormat.of().formatHex(token, 8, 16));
        r.put("base64", Base64.getEncoder().encodeToString(token));
        r.put("base64 without padding", Base64.getEncoder().withoutPadding().encodeToString(token));
        r.put("url-safe base64", Base64.getUrlEncoder().withoutPadding().encodeToString(token));
        r.put("raw bytes as ISO-8859-1", new String(token, StandardCharsets.ISO_8859_1));
        String utf8 = new String(token, StandardCharsets.UTF_8);
        if (utf8.indexOf('\uFFFD') < 0) {
            r.put("raw bytes as UTF-8", utf8);
        }
        r.put("Java array", Arrays.toString(token));
        r.put("protobuf text escape", TextFormat.escapeBytes(ByteString.copyFrom(token)));
        return r;
    }
}
