package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Hello;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * What a client sends reaches the text log printable and bounded: a refused Hello
 * whose fields carry line breaks cannot forge log lines, and a huge field cannot
 * flood the log.
 */
@ExtendWith(OutputCaptureExtension.class)
class HelloLogSafetyTest {

    @TempDir
    Path dir;

    @Test
    void aHelloCannotForgeOrFloodLogLines(CapturedOutput output) throws Exception {
        String forged = "echo\n2026-01-01T00:00:00Z  INFO forged line";
        String huge = "r".repeat(10_000);
        try (RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"))) {
            Hello hello = RawClient.hello(forged, "1.0.0").toBuilder().setRequestId(huge).build();
            try (RawClient client = RawClient.connect(broker.socket())) {
                client.send(RawClient.helloFrame(hello, 9));
                assertEquals(ErrorCode.ERROR_PEER_REJECTED, client.readReply().getRefused().getCode());
            }
        }
        List<String> lines = Arrays.asList(output.getOut().split("\n"));
        assertFalse(lines.stream().anyMatch(l -> l.startsWith("2026-01-01T00:00:00Z  INFO forged line")),
                "a forged line in the log");
        String helloLine = lines.stream().filter(l -> l.contains("io.handoffbroker.hello")).findFirst().orElseThrow();
        // Quoted, as a client's text with spaces is (escaped quotes in a JSON format an earlier test left on).
        assertTrue(helloLine.matches(".*service=\\\\?\"echo\\?2026-01-01T00:00:00Z  INFO forged line\\\\?\".*"),
                helloLine);
        assertTrue(helloLine.contains("request_id=" + "r".repeat(128) + "..."), helloLine);
        assertTrue(helloLine.length() < 1_000, () -> "Hello line of " + helloLine.length() + " characters");
    }
}
