package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/** What a client sends cannot write fields of its own into the Hello log's text line. */
@ExtendWith(OutputCaptureExtension.class)
class HelloLogTextTest {

    @TempDir
    Path dir;

    @Test
    void aClientsTextWithSpacesEqualsOrQuotesIsQuotedInTheMessage() {
        assertThat(BrokerMetrics.inText("hello-7")).isEqualTo("hello-7");
        assertThat(BrokerMetrics.inText("")).isEmpty();
        assertThat(BrokerMetrics.inText("x outcome=negotiated")).isEqualTo("\"x outcome=negotiated\"");
        assertThat(BrokerMetrics.inText("a=b")).isEqualTo("\"a=b\"");
        assertThat(BrokerMetrics.inText("say \"hi\" \\o/")).isEqualTo("\"say \\\"hi\\\" \\\\o/\"");
    }

    @Test
    void aForgedRequestIdCannotPassForFieldsOfTheHelloLine(CapturedOutput output) throws Exception {
        ServiceBackend echo = ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock"));
        BrokerMetrics metrics = new BrokerMetrics(new SimpleMeterRegistry(), new ServiceCatalog(List.of(echo)));
        try (BrokerFixture broker = new BrokerFixture(dir).service(echo).events(metrics).start();
                RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
            assertThat(client.hello(RawClient.hello("nosuch", "1.2.3").toBuilder()
                    .setRequestId("x outcome=negotiated service=echo").build()).hasRefused()).isTrue();
        }
        // In whatever console format an earlier test left configured: in JSON the quotes are escaped.
        assertThat(output.getOut())
                .containsPattern("hello service=nosuch version=1\\.2\\.3 connection_id=\\d+"
                        + " request_id=\\\\?\"x outcome=negotiated service=echo\\\\?\" frame_request_id=7"
                        + " outcome=service_unknown ");
    }
}
