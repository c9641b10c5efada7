package io.handoffbroker.examples;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.StreamHandler;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** The upper service: answers each line a client sends with the line in upper case. */
public final class UpperCaseBackend {

    /** Serves on both routes: clients that reconnect to backendPipe, and connections handed over. */
    public static BackendServer start(Path backendPipe, Path handoffEndpoint) throws IOException {
        return new BackendServer(backendPipe, Optional.of(handoffEndpoint), new UpperCaseHandler(), 64).start();
    }

    /** Arguments: the backend_pipe and the handoff endpoint, as the broker's configuration names them. */
    public static void main(String[] args) throws Exception {
        BackendServer server = start(Path.of(args[0]), Path.of(args[1]));
        // The SDK's threads are daemon threads: close the server on SIGTERM or Ctrl-C (which removes
        // its socket files), and keep main from returning, which would end the JVM.
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        Thread.currentThread().join();
    }

    /** The client speaks first: a line in, a line out, until the client closes. */
    static final class UpperCaseHandler implements StreamHandler {

        @Override
        public void serve(InputStream in, OutputStream out) throws IOException {
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                out.write((line.toUpperCase(Locale.ROOT) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        }
    }
}
