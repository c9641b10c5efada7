package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.HandoffFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** What {@link BackendServer#start} refuses, and what its errors say. */
class BackendServerStartTest {

    @TempDir
    Path dir;

    @Test
    void aLiveListenerAtTheBackendPipeIsNamedAsAnotherBackendAndItsEndpoint() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        try (AFUNIXServerSocket live = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(pipe), false)) {
            BackendServer server = new BackendServer(pipe, new EchoHandler(), 4);

            assertThatThrownBy(server::start).isInstanceOf(IOException.class)
                    .hasMessageContaining("a live listener already answers at " + pipe)
                    .hasMessageContaining("is another backend running?")
                    .hasMessageContaining("choose another backend_pipe")
                    .hasMessageNotContaining("broker");
            server.close();
        }
    }

    @Test
    void aLiveListenerAtTheHandoffEndpointIsNamedAsAnotherBackendAndItsHandoffEndpoint() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        try (AFUNIXServerSocket live = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoff), false)) {
            BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4);

            assertThatThrownBy(server::start).isInstanceOf(IOException.class)
                    .hasMessageContaining("a live listener already answers at " + handoff)
                    .hasMessageContaining("is another backend running?")
                    .hasMessageContaining("choose another handoff endpoint")
                    .hasMessageNotContaining("broker");
            assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).as("the pipe bound first is removed again")
                    .isFalse();
        }
    }

    @Test
    void startAfterCloseThrowsAndBindsNothing() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4).start();
        server.close();

        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("BackendServer for " + pipe + " is closed")
                .hasMessageContaining("create a new BackendServer");

        assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).as("backend_pipe bound again").isFalse();
        assertThat(Files.exists(handoff, LinkOption.NOFOLLOW_LINKS)).as("handoff endpoint bound again").isFalse();
    }

    @Test
    void startAfterCloseBeforeAnyStartThrowsAndCreatesNothing() throws Exception {
        Path pipe = dir.resolve("never").resolve("pipe.sock");
        BackendServer server = new BackendServer(pipe, new EchoHandler(), 4);
        server.close();

        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");

        assertThat(Files.exists(pipe.getParent(), LinkOption.NOFOLLOW_LINKS)).as("directory created").isFalse();
    }

    @Test
    void aStartThatFailedClosesTheServerSoARetryThrowsInsteadOfBindingAServerThatServesNobody() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4);
        try (AFUNIXServerSocket live = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(handoff), false)) {
            assertThatThrownBy(server::start).isInstanceOf(IOException.class);
        }

        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed (its start failed)")
                .hasMessageContaining("create a new BackendServer");

        assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).as("backend_pipe bound again").isFalse();
        try (BackendServer fresh = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4).start();
                AFUNIXSocket client = RawOffers.connect(pipe)) {
            assertThat(HandoffFixture.echo(client, "served")).as("a new server serves").isEqualTo("served");
        }
    }

    @Test
    void aSecondStartThrowsWithoutConnectingToTheRunningServer() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        AtomicInteger served = new AtomicInteger();
        StreamHandler counting = (in, out) -> {
            served.incrementAndGet();
            new EchoHandler().serve(in, out);
        };
        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), counting, 4).start()) {
            assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class)
                    .hasMessage("BackendServer for " + pipe + " is already started");

            try (AFUNIXSocket client = RawOffers.connect(pipe)) {
                assertThat(HandoffFixture.echo(client, "still")).as("the running server serves on").isEqualTo("still");
            }
            assertThat(served).as("connections the handler saw: the client's alone, no probe").hasValue(1);
        }
    }
}
