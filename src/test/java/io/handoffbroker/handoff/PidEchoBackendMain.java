package io.handoffbroker.handoff;

import io.handoffbroker.backend.BackendServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketCredentials;

/**
 * A backend in its own operating-system process, for the end-to-end test: the SDK
 * {@link BackendServer} with a line handler. {@code pid?} answers this process's pid,
 * {@code peer?} the kernel-verified pid of the peer, {@code local?} the address the
 * connection was accepted on; any other line is echoed. Exits when its standard
 * input ends (the test process went away) or when it is killed.
 *
 * <p>Arguments: {@code <backend_pipe> <handoff endpoint>}.
 */
public final class PidEchoBackendMain {

    private PidEchoBackendMain() {
    }

    public static void main(String[] args) throws Exception {
        Path pipe = Path.of(args[0]);
        Path handoff = Path.of(args[1]);
        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), connection -> {
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(connection.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = connection.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                String answer = switch (line) {
                    case "pid?" -> Long.toString(ProcessHandle.current().pid());
                    case "peer?" -> {
                        AFUNIXSocketCredentials peer = connection.getPeerCredentials();
                        yield Long.toString(peer == null ? -1 : peer.getPid());
                    }
                    case "local?" -> connection.getLocalSocketAddress() instanceof AFUNIXSocketAddress a ? a.getPath()
                            : String.valueOf(connection.getLocalSocketAddress());
                    default -> line;
                };
                out.write((answer + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        }, 64).start()) {
            System.out.println("READY " + ProcessHandle.current().pid());
            System.out.flush();
            // Until the parent closes our standard input or kills us.
            while (System.in.read() >= 0) {
                // ignore input
            }
        }
    }
}
