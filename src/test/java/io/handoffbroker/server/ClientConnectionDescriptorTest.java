package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.unix.Posix;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client connection's descriptor number, which the relay's send uses: the channel's own,
 * and never given once the connection is closed, when the number may name another file.
 */
class ClientConnectionDescriptorTest {

    @TempDir
    Path dir;

    @Test
    void theNumberIsTheChannelsWhileOpenAndRefusedOnceClosed() throws Exception {
        AtomicReference<Object> whileOpen = new AtomicReference<>();
        AtomicReference<Object> channelsOwn = new AtomicReference<>();
        AtomicReference<Object> afterClose = new AtomicReference<>();
        CountDownLatch routed = new CountDownLatch(1);
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .router(replies -> (connection, decision) -> {
                    whileOpen.set(numberOrFailure(connection));
                    try {
                        channelsOwn.set(Posix.number(connection.channel().getFileDescriptor()));
                    } catch (IOException e) {
                        channelsOwn.set(e);
                    }
                    connection.close("test");
                    afterClose.set(numberOrFailure(connection));
                    routed.countDown();
                }).start();
                RawClient client = broker.connect()) {
            client.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1));
            assertThat(routed.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(whileOpen.get()).isInstanceOf(Integer.class).isEqualTo(channelsOwn.get());
        assertThat(afterClose.get()).isInstanceOf(ClosedChannelException.class);
    }

    private static Object numberOrFailure(ClientConnection connection) {
        try {
            return connection.descriptor();
        } catch (IOException e) {
            return e;
        }
    }
}
