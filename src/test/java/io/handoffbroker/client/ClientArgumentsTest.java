package io.handoffbroker.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.wire.proto.Negotiated;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The SDK's public constructors refuse what no call could work with at once, naming the
 * argument, instead of failing the first call (a null path) or every call (a wait of zero
 * or less).
 */
class ClientArgumentsTest {

    private static final Path SOCKET = Path.of("/nonexistent/broker.sock");
    private static final Duration FIVE_SECONDS = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void aNullArgumentOfABrokerClientIsANullPointerExceptionNamingIt() {
        assertThatThrownBy(() -> new BrokerClient(null, FIVE_SECONDS, FIVE_SECONDS, true))
                .isInstanceOf(NullPointerException.class).hasMessage("brokerSocket is null");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, null, FIVE_SECONDS, true))
                .isInstanceOf(NullPointerException.class).hasMessage("replyTimeout is null");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, FIVE_SECONDS, null, true))
                .isInstanceOf(NullPointerException.class).hasMessage("relayWait is null");
        assertThatThrownBy(() -> new BrokerClient(null, null, null, true))
                .isInstanceOf(NullPointerException.class).hasMessage("brokerSocket is null");
        assertThatThrownBy(() -> new BrokerClient(null, FIVE_SECONDS))
                .isInstanceOf(NullPointerException.class).hasMessage("brokerSocket is null");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, null))
                .isInstanceOf(NullPointerException.class).hasMessage("replyTimeout is null");
        assertThatThrownBy(() -> new BrokerClient(null))
                .isInstanceOf(NullPointerException.class).hasMessage("brokerSocket is null");
    }

    @Test
    void aWaitOfZeroOrLessIsAnIllegalArgumentExceptionNamingItAndItsValue() {
        assertThatThrownBy(() -> new BrokerClient(SOCKET, Duration.ZERO, FIVE_SECONDS, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("replyTimeout must be positive, not PT0S");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("replyTimeout must be positive, not PT-1S");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, FIVE_SECONDS, Duration.ofMillis(-1000), true))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("relayWait must be positive, not PT-1S");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, FIVE_SECONDS, Duration.ZERO, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("relayWait must be positive, not PT0S");
        assertThatThrownBy(() -> new BrokerClient(SOCKET, ChronoUnit.FOREVER.getDuration().negated()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("replyTimeout must be positive");
    }

    @Test
    void theShortestAndLongestPositiveWaitsAreAccepted() {
        assertThat(new BrokerClient(SOCKET, Duration.ofNanos(1), Duration.ofNanos(1), true).brokerSocket())
                .isEqualTo(SOCKET);
        assertThat(new BrokerClient(SOCKET, ChronoUnit.FOREVER.getDuration()).brokerSocket()).isEqualTo(SOCKET);
    }

    @Test
    void aNullPartOfAServiceConnectionIsANullPointerExceptionNamingIt() throws Exception {
        Path path = dir.resolve("listener.sock");
        try (AFUNIXServerSocket listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path));
                AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path))) {
            Negotiated negotiated = Negotiated.getDefaultInstance();
            assertThatThrownBy(() -> new ServiceConnection(null, Route.RECONNECTED, negotiated, ""))
                    .isInstanceOf(NullPointerException.class).hasMessage("socket is null");
            assertThatThrownBy(() -> new ServiceConnection(socket, null, negotiated, ""))
                    .isInstanceOf(NullPointerException.class).hasMessage("route is null");
            assertThatThrownBy(() -> new ServiceConnection(socket, Route.RECONNECTED, null, ""))
                    .isInstanceOf(NullPointerException.class).hasMessage("negotiated is null");
            assertThatThrownBy(() -> new ServiceConnection(socket, Route.RECONNECTED, negotiated, null))
                    .isInstanceOf(NullPointerException.class).hasMessage("fallbackReason is null");
        }
    }

    @Test
    void aNullRefusalIsANullPointerExceptionNamingIt() {
        assertThatThrownBy(() -> new BrokerRefusedException(null))
                .isInstanceOf(NullPointerException.class).hasMessage("refused is null");
    }
}
