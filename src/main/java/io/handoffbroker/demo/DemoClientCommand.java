package io.handoffbroker.demo;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.BrokerRefusedException;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.unix.DefaultSocketPath;
import io.handoffbroker.wire.PeerText;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code demo-client [--socket PATH] [--service NAME] [--version X.Y.Z] [MESSAGE]}:
 * connects through the broker, sends MESSAGE, reads the echo, and prints the
 * route and the round-trip time. Exit status 0 on a correct echo, 2 when the
 * broker refused, 1 on any other failure.
 */
public final class DemoClientCommand {

    private static final int ECHO_TIMEOUT_MS = 5_000;

    private DemoClientCommand() {
    }

    public static int run(String... args) {
        Path socket = DefaultSocketPath.resolve();
        String service = "echo";
        String version = "1.0.0";
        String message = "hello through handoff-broker";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--socket" -> socket = Path.of(args[++i]);
                case "--service" -> service = args[++i];
                case "--version" -> version = args[++i];
                default -> message = args[i];
            }
        }
        BrokerClient client = new BrokerClient(socket, Duration.ofSeconds(5));
        long start = System.nanoTime();
        try (ServiceConnection connection = client.connect(service, version)) {
            long connected = System.nanoTime();
            byte[] sent = message.getBytes(StandardCharsets.UTF_8);
            connection.out().write(sent);
            connection.out().flush();
            // Bounded like every wait before it: a backend that took the connection may never answer.
            connection.socket().setSoTimeout(ECHO_TIMEOUT_MS);
            byte[] echoed = readExactly(connection.in(), sent.length);
            long done = System.nanoTime();
            String reply = new String(echoed, StandardCharsets.UTF_8);
            System.out.printf("route=%s%s service=%s@%s connection_id=%d backend_pipe=%s%n",
                    connection.route().label(),
                    connection.fallbackReason().isEmpty() ? "" : " fallback_reason=" + connection.fallbackReason(),
                    service, version, connection.connectionId(),
                    PeerText.printable(connection.negotiated().getBackendPipe(), PeerText.REASON_MAX_CHARS));
            // Whoever answered wrote these bytes (as many as were sent); a terminal must not take
            // them for commands.
            System.out.printf("echo=\"%s\" connect_us=%d echo_rtt_us=%d total_us=%d%n",
                    PeerText.printable(reply, Integer.MAX_VALUE),
                    (connected - start) / 1000, (done - connected) / 1000, (done - start) / 1000);
            return reply.equals(message) ? 0 : 1;
        } catch (BrokerRefusedException refused) {
            System.out.println("refused code=" + refused.code().name() + " reason=\"" + refused.reason()
                    + "\" retry_after_ms=" + refused.retryAfter().toMillis());
            return 2;
        } catch (IOException e) {
            System.out.println("failed: " + e + " (is the broker running at " + socket + "?)");
            return 1;
        }
    }

    private static byte[] readExactly(InputStream in, int length) throws IOException {
        byte[] bytes = in.readNBytes(length);
        if (bytes.length != length) {
            throw new IOException("backend closed after " + bytes.length + " of " + length + " echoed bytes");
        }
        return bytes;
    }
}
