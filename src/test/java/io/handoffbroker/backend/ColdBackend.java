package io.handoffbroker.backend;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.DescriptorExhaustion;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A backend in a process of its own, started with nothing on its offer path used yet, its
 * classes read from the build's directories as the container image reads them. Standard
 * input steers it: {@code exhaust} takes every free descriptor number, {@code release}
 * gives them back; each is confirmed with a line starting {@link #SAYS}, among its log lines.
 * It stops when its input ends.
 */
final class ColdBackend {

    static final String SAYS = "cold-backend: ";

    private ColdBackend() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), Optional.of(dir.resolve("handoff.sock")),
                new EchoHandler(), 4).start()) {
            System.out.println(SAYS + "started");
            DescriptorExhaustion exhausted = null;
            String command;
            while ((command = commands.readLine()) != null) {
                if (command.equals("exhaust")) {
                    exhausted = DescriptorExhaustion.leaving(0);
                    System.out.println(SAYS + "exhausted");
                } else if (command.equals("release") && exhausted != null) {
                    exhausted.close();
                    exhausted = null;
                    System.out.println(SAYS + "released");
                }
            }
        }
    }
}
