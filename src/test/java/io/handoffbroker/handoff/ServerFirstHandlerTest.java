package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.StreamHandler;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.wire.SemVer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A service whose protocol is server-first (the backend greets before the client speaks) must not
 * be handed connections: the greeting could reach the client before the broker's relay. Served by
 * the reconnect route alone, as the handler documentation tells such a service to be, it works:
 * the client gets the greeting first and the handler runs once.
 */
class ServerFirstHandlerTest {

    private static final byte[] GREETING = "220 ready\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private final AtomicInteger served = new AtomicInteger();

    /** Writes its greeting before reading anything, then echoes. */
    private final StreamHandler greetsFirst = (in, out) -> {
        served.incrementAndGet();
        out.write(GREETING);
        out.flush();
        in.transferTo(out);
    };

    @Test
    void withHandoffSwitchedOffForTheServiceTheClientReconnectsAndReadsTheGreetingFirst() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        // The endpoint stays configured, as handoff-enabled: false leaves it.
        ServiceBackend service = new ServiceBackend(HandoffFixture.SERVICE, SemVer.parse(HandoffFixture.VERSION),
                pipe, Optional.of(handoff), false, Optional.empty(), List.of());
        try (BackendServer backend = new BackendServer(pipe, Optional.of(handoff), greetsFirst, 4).start();
                HandoffFixture broker = new HandoffFixture(dir).service(service).start()) {
            assertGreetedOnceOverTheReconnectRoute(broker, FallbackReason.SERVICE_POLICY_DISABLED);
        }
    }

    @Test
    void withNoHandoffEndpointTheClientReconnectsAndReadsTheGreetingFirst() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        try (BackendServer backend = new BackendServer(pipe, greetsFirst, 4).start();
                HandoffFixture broker = new HandoffFixture(dir).service(ServiceBackend.reconnectOnly(
                        HandoffFixture.SERVICE, HandoffFixture.VERSION, pipe)).start()) {
            assertGreetedOnceOverTheReconnectRoute(broker, FallbackReason.SERVICE_POLICY_DISABLED);
        }
    }

    private void assertGreetedOnceOverTheReconnectRoute(HandoffFixture broker, String reason) throws Exception {
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
            assertThat(connection.negotiated().getHandlePassedToken().isEmpty()).as("no handoff offered").isTrue();
            connection.socket().setSoTimeout(5_000);
            assertThat(connection.in().readNBytes(GREETING.length)).as("the greeting, before the client spoke")
                    .isEqualTo(GREETING);
            assertThat(HandoffFixture.echo(connection.socket(), "then the client")).isEqualTo("then the client");
            assertThat(broker.events().awaitEvent(connection.connectionId(), "fallback", Duration.ofSeconds(5)))
                    .isNotNull();
            assertThat(broker.events().fallbackReasonsOf(connection.connectionId())).containsExactly(reason);
        }
        assertThat(served).as("handler runs").hasValue(1);
    }
}
