package io.handoffbroker.bench;

import io.handoffbroker.unix.Descriptors;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The broker of the route floor ({@code route-floor-broker BROKER_SOCKET HANDOFF_ENDPOINT}):
 * one thread, blocking sockets, and the real broker's messages in the real order
 * without deciding anything. Per client connection: read the Hello, write the
 * Negotiated; for a reconnect, close; for a handoff, send the token with the client's
 * descriptor and the offer on the one kept control connection, read the ACK, write the
 * relay to the client, and close the broker's copy without shutting the connection down.
 */
final class RouteFloorBroker {

    private static final Duration BACKEND_WAIT = Duration.ofSeconds(90);

    private final AFUNIXSocket control;
    private final InputStream controlIn;
    private final OutputStream controlOut;
    private final byte[] hello = new byte[RouteFloor.HELLO_BYTES];
    private final byte[] negotiatedHandoff = new byte[RouteFloor.NEGOTIATED_HANDOFF_BYTES];
    private final byte[] negotiatedReconnect = new byte[RouteFloor.NEGOTIATED_RECONNECT_BYTES];
    private final byte[] token = new byte[RouteFloor.TOKEN_BYTES];
    private final byte[] offer = new byte[RouteFloor.OFFER_BYTES];
    private final byte[] ack = new byte[RouteFloor.ACK_BYTES];
    private final byte[] relay = new byte[RouteFloor.RELAY_BYTES];

    private RouteFloorBroker(AFUNIXSocket control) throws IOException {
        this.control = control;
        this.controlIn = control.getInputStream();
        this.controlOut = control.getOutputStream();
    }

    static void run(Path brokerSocket, Path handoffEndpoint) throws IOException, InterruptedException {
        // Dialled before binding: once the broker socket answers, a handoff can go through.
        RouteFloorBroker broker = new RouteFloorBroker(dial(handoffEndpoint));
        AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(brokerSocket));
        System.out.println("route floor broker ready, pid " + ProcessHandle.current().pid());
        while (true) {
            AFUNIXSocket client = server.accept();
            try {
                broker.serve(client);
            } catch (IOException e) {
                System.out.println("a client connection failed: " + e);
            } finally {
                // The broker's copy only: after a handoff the backend's copy shares the socket.
                Descriptors.closeWithoutShutdown(client);
            }
        }
    }

    private static AFUNIXSocket dial(Path handoffEndpoint) throws IOException, InterruptedException {
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(handoffEndpoint);
        long deadline = System.nanoTime() + BACKEND_WAIT.toNanos();
        while (true) {
            try {
                return AFUNIXSocket.connectTo(address);
            } catch (IOException notYet) {
                if (System.nanoTime() - deadline > 0) {
                    throw notYet;
                }
                Thread.sleep(20);
            }
        }
    }

    private void serve(AFUNIXSocket client) throws IOException {
        InputStream in = client.getInputStream();
        OutputStream out = client.getOutputStream();
        if (in.readNBytes(hello, 0, hello.length) < hello.length) {
            return; // the orchestrator's readiness probe, which connects and closes
        }
        if (hello[0] != RouteFloor.HANDOFF) {
            out.write(negotiatedReconnect);
            return;
        }
        out.write(negotiatedHandoff);
        control.setOutboundFileDescriptors(client.getFileDescriptor());
        try {
            controlOut.write(token);
        } finally {
            // Left attached, the descriptor would go out again with the offer.
            control.setOutboundFileDescriptors();
        }
        controlOut.write(offer);
        RouteFloor.readFully(controlIn, ack, "the ACK");
        out.write(relay);
    }
}
