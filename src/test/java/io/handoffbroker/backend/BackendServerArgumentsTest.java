package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.SocketFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXSocket;

/** The backend SDK refuses arguments it could not serve with, naming the argument, before anything is bound. */
class BackendServerArgumentsTest {

    @TempDir
    Path dir;

    private final EchoHandler echo = new EchoHandler();

    @Test
    void nullArgumentsAreRefusedNamingThem() {
        Path pipe = dir.resolve("pipe.sock");
        assertThatThrownBy(() -> new BackendServer(null, echo, 4)).isInstanceOf(NullPointerException.class)
                .hasMessage("endpoint");
        assertThatThrownBy(() -> new BackendServer(pipe, null, echo, 4)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("handoffEndpoint");
        assertThatThrownBy(() -> new BackendServer(pipe, null, 4)).isInstanceOf(NullPointerException.class)
                .hasMessage("handler");
    }

    @ParameterizedTest(name = "maxConnections {0}")
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void fewerThanOneConnectionIsRefused(int maxConnections) {
        assertThatThrownBy(() -> new BackendServer(dir.resolve("pipe.sock"), echo, maxConnections))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConnections must be at least 1, was " + maxConnections);
    }

    @Test
    void oneConnectionServesAReconnectingClientThenAHandoffOnTheSameSlot() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), echo, 1).start();
                AFUNIXSocket control = RawOffers.connect(handoff)) {
            try (AFUNIXSocket client = RawOffers.connect(pipe)) {
                assertThat(HandoffFixture.echo(client, "reconnected")).isEqualTo("reconnected");
            }
            assertThat(RecordingHandoffEvents.awaitTrue(() -> server.openConnections() == 0, Duration.ofSeconds(5)))
                    .as("the slot given back").isTrue();
            try (RawOffers.Pair pair = RawOffers.Pair.open()) {
                assertThat(RawOffers.ack(control, pair.passed(), RawOffers.token(1), 1).getAccepted())
                        .as("handed off on the one slot").isTrue();
                Descriptors.closeWithoutShutdown(pair.theirs());
                assertThat(HandoffFixture.echo(pair.ours(), "handed off")).isEqualTo("handed off");
            }
        }
    }

    @Test
    void aPathLongerThanASocketAddressHoldsIsRefusedNamingTheArgumentAndTheLongestThatFitsBinds() throws Exception {
        String prefix = dir.toString() + "/";
        Path longest = Path.of(prefix + "p".repeat(SocketFile.MAX_PATH_BYTES - SocketFile.addressBytes(prefix)));
        Path tooLong = Path.of(longest + "x");

        assertThatThrownBy(() -> new BackendServer(tooLong, echo, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("endpoint " + tooLong + " is 108 bytes long")
                .hasMessageContaining("at most 107");
        assertThatThrownBy(() -> new BackendServer(dir.resolve("pipe.sock"), Optional.of(tooLong), echo, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("handoffEndpoint " + tooLong + " is 108 bytes long");

        try (BackendServer server = new BackendServer(longest, echo, 4).start();
                AFUNIXSocket client = RawOffers.connect(longest)) {
            assertThat(HandoffFixture.echo(client, "fits")).isEqualTo("fits");
        }
    }

    @Test
    void oneSocketPathForBothEndpointsIsRefused() {
        Path pipe = dir.resolve("pipe.sock");
        assertThatThrownBy(() -> new BackendServer(pipe, Optional.of(dir.resolve("x/../pipe.sock")), echo, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("handoffEndpoint")
                .hasMessageContaining("is the endpoint itself");
    }

    @Test
    void aPathNamingNoFileIsRefused() {
        assertThatThrownBy(() -> new BackendServer(Path.of("/"), echo, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("endpoint '/' names no socket file");
        assertThatThrownBy(() -> new BackendServer(Path.of(""), echo, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("endpoint");
    }

    @Test
    void brokerUsersThatAreNoUsersAreRefused() {
        BackendServer server = new BackendServer(dir.resolve("pipe.sock"), Optional.of(dir.resolve("h.sock")), echo,
                4);
        assertThatThrownBy(() -> server.acceptHandoffsFrom(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("uids");
        Set<Long> withNull = new HashSet<>();
        withNull.add(null);
        assertThatThrownBy(() -> server.acceptHandoffsFrom(withNull)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("uids");
        assertThatThrownBy(() -> server.acceptHandoffsFrom(Set.of(-1L))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("uids holds -1");
        assertThatThrownBy(() -> server.acceptHandoffsFrom(Set.of(4_294_967_295L)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("uids holds 4294967295");
        server.acceptHandoffsFrom(Set.of(0L, 4_294_967_294L));
        server.close();
        assertThatThrownBy(() -> server.acceptHandoffsFrom(Set.of(0L))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already closed");
    }
}
