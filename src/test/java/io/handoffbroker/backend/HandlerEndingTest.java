package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/** How a handler's end is told: a client that closes at once is the client's doing, not the handler's failure. */
@ExtendWith(OutputCaptureExtension.class)
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HandlerEndingTest {

    @TempDir
    Path dir;

    @Test
    void aStreamHandlerIsWrittenAsALambdaAndServes() throws Exception {
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), (in, out) -> out.write(in.read()),
                1).start(); AFUNIXSocket client = RawOffers.connect(server.endpoint())) {
            client.getOutputStream().write('a');
            assertThat(client.getInputStream().read()).isEqualTo('a');
        }
    }

    @Test
    void aConnectionClosedBeforeAWholeRecordIsNoHandlerFailure(CapturedOutput output) throws Exception {
        CountDownLatch ended = new CountDownLatch(1);
        StreamHandler readsARecord = (in, out) -> {
            try {
                new DataInputStream(in).readInt(); // EOFException on a connection closed without a byte
            } finally {
                ended.countDown();
            }
        };
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), readsARecord, 1).start()) {
            RawOffers.connect(server.endpoint()).close(); // as the broker's probe does
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
            // The server logs after the handler returned; a served echo afterwards means it has.
            try (AFUNIXSocket next = RawOffers.connect(server.endpoint())) {
                next.getOutputStream().write(new byte[] {0, 0, 0, 1});
                assertThat(next.getInputStream().read()).as("served and closed").isEqualTo(-1);
            }
        }
        assertThat(output.getAll()).doesNotContain("handler failed");
    }

}
