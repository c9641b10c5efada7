package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Hello;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that announce the largest Hello and stall hold, together, no more than the broker's
 * Hello memory: a Hello that finds no room waits unread in its socket, the others are served,
 * and it is read once memory is given back. Before, each such client made the broker set aside
 * 64 KiB at once, and a few thousand of them ran its heap out within the Hello time-out.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class StalledHelloMemoryTest {

    private static final long HELLO_MEMORY = 64 * 1024;

    @TempDir
    Path dir;

    @Test
    void stalledLargeHellosStayWithinTheHelloMemoryAndAWaitingHelloIsServedWhenTheyGo() throws Exception {
        List<RawClient> stalled = new ArrayList<>();
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(Duration.ofSeconds(30)).helloMemory(HELLO_MEMORY).start()) {
            for (int i = 0; i < 6; i++) { // each would buffer 32 KiB: three times the memory together
                RawClient client = broker.connect();
                stalled.add(client);
                client.send(RawClient.header(WireProtocol.MAX_HELLO_BODY)).send(new byte[30 * 1024]);
            }
            await("the stalled Hellos to take the memory", Duration.ofSeconds(5),
                    () -> broker.server().helloMemoryTaken() > HELLO_MEMORY - 8 * 1024);
            assertThat(broker.server().helloMemoryTaken()).isLessThanOrEqualTo(HELLO_MEMORY);

            try (RawClient usual = broker.connect()) {
                assertNegotiated(usual.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1)).readFrame());
            }
            try (RawClient large = RawClient.connect(broker.socketPath(), Duration.ofMillis(300))) {
                large.send(RawClient.helloFrame(paddedHello(20 * 1024), 2));
                assertThatThrownBy(large::readFrame).as("no room for its body yet")
                        .isInstanceOf(SocketTimeoutException.class);
                assertThat(broker.server().helloMemoryTaken()).isLessThanOrEqualTo(HELLO_MEMORY);

                for (RawClient client : stalled) {
                    client.close();
                }
                large.socket().setSoTimeout(5_000);
                assertNegotiated(large.readFrame());
            }
            await("the memory to be given back", Duration.ofSeconds(5),
                    () -> broker.server().helloMemoryTaken() == 0);
        } finally {
            for (RawClient client : stalled) {
                client.close();
            }
        }
    }

    /** A valid Hello made {@code padding} bytes larger by a field the broker does not know. */
    private static Hello paddedHello(int padding) {
        return RawClient.hello("echo", "1.2.3").toBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(1000, UnknownFieldSet.Field.newBuilder()
                        .addLengthDelimited(ByteString.copyFrom(new byte[padding])).build())
                .build()).build();
    }
}
