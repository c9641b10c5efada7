package io.handoffbroker.bench;

import io.handoffbroker.HandoffBrokerApplication;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.demo.EchoHandler;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Entry point of every process the orchestrator starts; the first argument is the role.
 * Each exits when its standard input ends ({@link ParentLink}) or when its work is done.
 *
 * <ul>
 *   <li>{@code broker ARGS...}: the real application, {@link HandoffBrokerApplication}, with ARGS;</li>
 *   <li>{@code backend PIPE HANDOFF}: the backend SDK's {@link BackendServer} with the demo {@link EchoHandler};</li>
 *   <li>{@code floor-server SOCKET CONNECT_SOCKET}: answers every byte with one byte on SOCKET, for
 *       the floor; on CONNECT_SOCKET accepts, answers one byte and closes, for the connect floor;</li>
 *   <li>{@code route-floor-backend BACKEND_PIPE HANDOFF_ENDPOINT} and
 *       {@code route-floor-broker BROKER_SOCKET HANDOFF_ENDPOINT}: the route floor's stand-ins for
 *       the backend and the broker, exchanging the real messages' bytes and nothing else, see
 *       {@link RouteFloorBackend} and {@link RouteFloorBroker};</li>
 *   <li>{@code latency-client ...}, {@code route-client ...}, {@code route-floor-client ...},
 *       {@code throughput-client ...}, {@code idle-client ...}: the measuring clients, see their
 *       classes.</li>
 * </ul>
 */
public final class BenchChild {

    private BenchChild() {
    }

    public static void main(String[] args) throws Exception {
        String role = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        ParentLink parent = ParentLink.watch();
        switch (role) {
            case "broker" -> HandoffBrokerApplication.main(rest); // returns; the broker's own threads keep it up
            case "backend" -> backend(rest);
            case "floor-server" -> floorServer(Path.of(rest[0]), Path.of(rest[1]));
            case "latency-client" -> exit(LatencyClient.run(rest, parent));
            case "route-client" -> exit(RouteClient.run(rest, parent));
            case "route-floor-backend" -> RouteFloorBackend.run(Path.of(rest[0]), Path.of(rest[1]));
            case "route-floor-broker" -> RouteFloorBroker.run(Path.of(rest[0]), Path.of(rest[1]));
            case "route-floor-client" -> exit(RouteFloorClient.run(rest));
            case "throughput-client" -> exit(ThroughputClient.run(rest));
            case "idle-client" -> exit(IdleClient.run(rest, parent));
            default -> throw new IllegalArgumentException("unknown role " + role);
        }
    }

    private static void exit(int status) {
        System.out.flush();
        System.exit(status);
    }

    private static void backend(String[] args) throws Exception {
        BackendServer server = new BackendServer(Path.of(args[0]), Optional.of(Path.of(args[1])), new EchoHandler(),
                Integer.parseInt(args[2]));
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        System.out.println("backend ready, pid " + ProcessHandle.current().pid());
        Thread.currentThread().join(); // until the parent link ends the process
    }

    /**
     * On {@code socket}, one thread per connection, each byte read answered with the same
     * byte. On {@code connectSocket}, one thread accepts, reads one byte, answers it and
     * closes, connection after connection.
     */
    private static void floorServer(Path socket, Path connectSocket) throws Exception {
        AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket));
        AFUNIXServerSocket connectServer = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(connectSocket));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close();
                connectServer.close();
                java.nio.file.Files.deleteIfExists(socket);
                java.nio.file.Files.deleteIfExists(connectSocket);
            } catch (java.io.IOException ignored) {
                // Exiting anyway.
            }
        }));
        Thread.ofPlatform().name("connect-floor").daemon(true).start(() -> {
            while (!connectServer.isClosed()) {
                try (AFUNIXSocket connection = connectServer.accept()) {
                    int b = connection.getInputStream().read();
                    if (b >= 0) {
                        connection.getOutputStream().write(b);
                    }
                } catch (java.io.IOException e) {
                    // The client went away, or the server is closing.
                }
            }
        });
        System.out.println("floor server ready, pid " + ProcessHandle.current().pid());
        while (true) {
            AFUNIXSocket connection;
            try {
                connection = server.accept();
            } catch (java.net.SocketException e) {
                if (server.isClosed()) {
                    return; // shutting down
                }
                throw e;
            }
            Thread.ofPlatform().name("floor-echo").daemon(true).start(() -> {
                try (connection) {
                    InputStream in = connection.getInputStream();
                    OutputStream out = connection.getOutputStream();
                    int b;
                    while ((b = in.read()) >= 0) {
                        out.write(b);
                    }
                } catch (java.io.IOException ignored) {
                    // The client went away.
                }
            });
        }
    }
}
