package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.demo.EchoHandler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
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
}
