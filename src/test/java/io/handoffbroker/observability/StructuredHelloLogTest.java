package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * With a structured console format on, the per-Hello and per-handoff lines are JSON
 * objects whose key-value pairs are fields a log pipeline can query: one Hello (the
 * demo service, enabled by default) is sent, the console captured, and the Hello's
 * line found by its logger and checked field by field. Every line on the console
 * must be one JSON object with no duplicate name.
 */
@ExtendWith(OutputCaptureExtension.class)
class StructuredHelloLogTest {

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /**
     * Where each format puts the logger name and the event's key-value pairs, which
     * application.yml nests under the context prefix {@code broker}.
     */
    enum Format {
        ECS("ecs", line -> line.path("log").path("logger"), (line, key) -> line.path("broker").path(key)),
        LOGSTASH("logstash", line -> line.path("logger_name"), (line, key) -> line.path("broker_" + key)),
        GELF("gelf", line -> line.path("_log_logger"), (line, key) -> line.path("_broker" + key));

        final String property;
        final Function<JsonNode, JsonNode> logger;
        final BiFunction<JsonNode, String, JsonNode> field;

        Format(String property, Function<JsonNode, JsonNode> logger, BiFunction<JsonNode, String, JsonNode> field) {
            this.property = property;
            this.logger = logger;
            this.field = field;
        }
    }

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Format.class)
    void theHelloLineCarriesItsKeyValuePairsAsJsonFields(Format format, CapturedOutput output) throws Exception {
        String requestId = "structured-log-" + format.property;
        long connectionId;
        try (RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                "--logging.structured.format.console=" + format.property)) {
            // Without CAP_HANDLE_PASSING: the broker answers and closes, and logs the Hello and the
            // handoff it did not attempt.
            Hello hello = RawClient.hello("echo", "1.0.0").toBuilder().setRequestId(requestId).build();
            try (RawClient client = RawClient.connect(broker.socket())) {
                HelloReply reply = client.hello(hello);
                assertTrue(reply.hasNegotiated(), reply::toString);
                connectionId = reply.getNegotiated().getConnectionId();
                assertTrue(client.isClosedByPeer());
            }
            // A refused Hello logs the same two ids the same way.
            Hello unknown = RawClient.hello("nosuch", "1.0.0").toBuilder().setRequestId(requestId + "-refused").build();
            try (RawClient client = RawClient.connect(broker.socket())) {
                client.send(RawClient.helloFrame(unknown, 42));
                assertTrue(client.readFrame().getRequestId() == 42);
            }
        }
        // Closing the context stops the broker after it logged both lines.
        List<JsonNode> lines = new ArrayList<>();
        for (String line : output.getOut().split("\n")) {
            if (!line.isBlank()) {
                lines.add(JSON.readTree(line)); // fails on anything that is not one JSON object
            }
        }

        List<JsonNode> helloLines = all(lines, format, "io.handoffbroker.hello");
        assertEquals(2, helloLines.size(), () -> "Hello lines: " + helloLines);
        JsonNode helloLine = helloLines.getFirst();
        JsonNode refusedLine = helloLines.getLast();
        assertEquals("service_unknown", field(format, refusedLine, "outcome").stringValue(), refusedLine::toString);
        assertEquals(requestId + "-refused", field(format, refusedLine, "request_id").stringValue(),
                refusedLine::toString);
        assertEquals(42, field(format, refusedLine, "frame_request_id").longValue(), refusedLine::toString);
        assertEquals(7, field(format, helloLine, "frame_request_id").longValue(), helloLine::toString);
        assertEquals("echo", field(format, helloLine, "service").stringValue(), helloLine::toString);
        assertEquals("1.0.0", field(format, helloLine, "version").stringValue(), helloLine::toString);
        assertEquals(connectionId, field(format, helloLine, "connection_id").longValue(), helloLine::toString);
        assertEquals(requestId, field(format, helloLine, "request_id").stringValue(), helloLine::toString);
        assertEquals("negotiated", field(format, helloLine, "outcome").stringValue(), helloLine::toString);
        JsonNode duration = field(format, helloLine, "duration_us");
        assertTrue(duration.isIntegralNumber() && duration.longValue() >= 0, helloLine::toString);

        JsonNode handoffLine = only(lines, format, "io.handoffbroker.handoff");
        assertEquals(connectionId, field(format, handoffLine, "connection_id").longValue(),
                handoffLine::toString);
        assertEquals("fallback", field(format, handoffLine, "outcome").stringValue(), handoffLine::toString);
        assertEquals(FallbackReason.CLIENT_UNSUPPORTED, field(format, handoffLine, "reason").stringValue(),
                handoffLine::toString);

        if (format == Format.ECS) {
            // ECS's own service object (this application) is intact beside the broker's fields.
            assertEquals("handoff-broker", helloLine.path("service").path("name").stringValue(), helloLine::toString);
        }
    }

    /** The event's key-value field {@code key}; fails naming the line when it is not there. */
    private static JsonNode field(Format format, JsonNode line, String key) {
        JsonNode value = format.field.apply(line, key);
        assertTrue(value.isValueNode(), () -> "no field " + key + " in " + line);
        return value;
    }

    private static JsonNode only(List<JsonNode> lines, Format format, String logger) {
        List<JsonNode> found = all(lines, format, logger);
        assertEquals(1, found.size(), () -> "lines of " + logger + " among " + lines);
        return found.getFirst();
    }

    private static List<JsonNode> all(List<JsonNode> lines, Format format, String logger) {
        return lines.stream()
                .filter(l -> format.logger.apply(l).isString() && logger.equals(format.logger.apply(l).stringValue()))
                .toList();
    }
}
