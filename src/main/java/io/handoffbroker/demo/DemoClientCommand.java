package io.handoffbroker.demo;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.BrokerRefusedException;
import io.handoffbroker.client.BrokerUnreachableException;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.unix.DefaultSocketPath;
import io.handoffbroker.unix.FailureText;
import io.handoffbroker.unix.SocketFile;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.proto.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * {@code demo-client [--socket PATH] [--service NAME] [--version X.Y.Z] [--] [MESSAGE]}:
 * connects through the broker, sends MESSAGE, reads the echo, and prints the route and the
 * round-trip time.
 *
 * <p>Output: lines of {@code key=value} fields separated by one space (the refusal line starts
 * with the word {@code refused}). A value is written as it is unless it is empty or holds a
 * space, a double quote or a backslash; then it is in double quotes, with {@code "} and
 * {@code \} escaped by a backslash. The free-text values ({@code echo}, {@code reason},
 * {@code fallback_reason}) are always quoted. What the broker or backend sent has its control
 * characters shown as {@code ?}. A refusal's code is the protocol's name for it, such as
 * {@code BACKEND_SPAWN_FAILED}.
 *
 * <p>Exit status: 0 on a correct echo, 1 on any other failure, 2 on a usage error (an unknown
 * option, an option without its value, a second MESSAGE; the usage goes to standard error), 3
 * when the broker refused.
 */
public final class DemoClientCommand {

    static final int EXIT_OK = 0;
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_REFUSED = 3;

    static final String USAGE = "usage: demo-client [--socket PATH] [--service NAME] [--version X.Y.Z] [--] [MESSAGE]";

    private static final int ECHO_TIMEOUT_MS = 5_000;
    private static final String ERROR_PREFIX = "ERROR_";

    private DemoClientCommand() {
    }

    public static int run(String... args) {
        return run(System.out, System.err, args);
    }

    /** As {@link #run(String...)}, printing to {@code out} and {@code err}. */
    public static int run(PrintStream out, PrintStream err, String... args) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (UsageException e) {
            err.println("demo-client: " + e.getMessage());
            err.println(USAGE);
            return EXIT_USAGE;
        }
        if (options == null) {
            out.println(USAGE);
            return EXIT_OK;
        }
        return connect(options, out);
    }

    private static int connect(Options options, PrintStream out) {
        String tooLong = SocketFile.tooLongForAnAddress(options.socket().toString());
        if (tooLong != null) {
            out.println("failed: --socket " + options.socket() + " " + tooLong);
            return EXIT_FAILED;
        }
        BrokerClient client = new BrokerClient(options.socket(), Duration.ofSeconds(5));
        long start = System.nanoTime();
        try (ServiceConnection connection = client.connect(options.service(), options.version())) {
            long connected = System.nanoTime();
            byte[] sent = options.message().getBytes(StandardCharsets.UTF_8);
            byte[] echoed;
            try {
                connection.out().write(sent);
                connection.out().flush();
                // Bounded like every wait before it: a backend that took the connection may never answer.
                connection.socket().setSoTimeout(ECHO_TIMEOUT_MS);
                echoed = readExactly(connection.in(), sent.length);
            } catch (IOException e) {
                // The broker did its part: this is the backend's, on the route the broker chose.
                out.println("failed: no echo from the backend (route=" + connection.route().label() + "): "
                        + (e instanceof SocketTimeoutException ? "nothing within " + ECHO_TIMEOUT_MS + " ms"
                                : described(e)));
                return EXIT_FAILED;
            }
            long done = System.nanoTime();
            String reply = new String(echoed, StandardCharsets.UTF_8);
            out.println("route=" + connection.route().label()
                    + (connection.fallbackReason().isEmpty() ? ""
                            : " fallback_reason=" + quoted(connection.fallbackReason()))
                    + " service=" + value(PeerText.printable(options.service() + "@" + options.version(),
                            PeerText.REASON_MAX_CHARS))
                    + " connection_id=" + connection.connectionId()
                    + " backend_pipe=" + value(PeerText.printable(connection.negotiated().getBackendPipe(),
                            PeerText.REASON_MAX_CHARS)));
            // Whoever answered wrote these bytes (as many as were sent); a terminal must not take
            // them for commands.
            out.println("echo=" + quoted(PeerText.printable(reply, Integer.MAX_VALUE))
                    + " connect_us=" + (connected - start) / 1000 + " echo_rtt_us=" + (done - connected) / 1000
                    + " total_us=" + (done - start) / 1000);
            return reply.equals(options.message()) ? EXIT_OK : EXIT_FAILED;
        } catch (BrokerRefusedException refused) {
            out.println("refused code=" + codeName(refused) + " reason=" + quoted(refused.reason())
                    + " retry_after_ms=" + refused.retryAfter().toMillis());
            return EXIT_REFUSED;
        } catch (BrokerUnreachableException e) {
            out.println("failed: " + e.getMessage() + " (is the broker running there? --socket chooses another path)");
            return EXIT_FAILED;
        } catch (IOException e) {
            String described = described(e);
            out.println("failed: " + described
                    + (described.contains(options.socket().toString()) ? "" : " (broker at " + options.socket() + ")"));
            return EXIT_FAILED;
        }
    }

    // For people: what went wrong, without the class names of a stack trace.
    private static String described(IOException e) {
        String message = FailureText.of(e);
        if (e instanceof WireException) {
            return "the answer does not follow the broker's protocol: " + message;
        }
        if (e instanceof SocketTimeoutException) {
            return "no answer in time: " + message;
        }
        return message;
    }

    /** The protocol's name of the code ({@code BACKEND_SPAWN_FAILED}), or its number when unknown here. */
    static String codeName(BrokerRefusedException refused) {
        ErrorCode code = refused.code();
        if (code == ErrorCode.UNRECOGNIZED) {
            return Integer.toString(refused.refused().getCodeValue());
        }
        String name = code.name();
        return name.startsWith(ERROR_PREFIX) ? name.substring(ERROR_PREFIX.length()) : name;
    }

    /** A value as the output writes it: as it is, or quoted when it would not read back as one value. */
    static String value(String text) {
        return text.isEmpty() || text.codePoints().anyMatch(c -> c == '"' || c == '\\' || Character.isWhitespace(c)
                || Character.isSpaceChar(c)) ? quoted(text) : text;
    }

    /** {@code text} in double quotes, with {@code "} and {@code \} escaped by a backslash. */
    static String quoted(String text) {
        return '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private static byte[] readExactly(InputStream in, int length) throws IOException {
        byte[] bytes = in.readNBytes(length);
        if (bytes.length != length) {
            throw new IOException("backend closed after " + bytes.length + " of " + length + " echoed bytes");
        }
        return bytes;
    }

    private record Options(Path socket, String service, String version, String message) {

        /** The options, or null when help was asked for. */
        static @Nullable Options parse(String... args) throws UsageException {
            Path socket = null;
            String service = "echo";
            String version = "1.0.0";
            String message = null;
            boolean optionsEnded = false;
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (!optionsEnded && arg.startsWith("-") && !arg.equals("-")) {
                    switch (arg) {
                        case "--socket" -> socket = path(valueOf(args, ++i, arg));
                        case "--service" -> service = valueOf(args, ++i, arg);
                        case "--version" -> version = valueOf(args, ++i, arg);
                        case "--" -> optionsEnded = true;
                        case "--help", "-h" -> {
                            return null;
                        }
                        default -> throw new UsageException("unknown option " + PeerText.printable(arg,
                                PeerText.REASON_MAX_CHARS));
                    }
                } else if (message == null) {
                    message = arg;
                } else {
                    throw new UsageException("more than one MESSAGE (quote a message that has spaces)");
                }
            }
            return new Options(socket != null ? socket : DefaultSocketPath.resolve(), service, version,
                    message != null ? message : "hello through handoff-broker");
        }

        private static String valueOf(String[] args, int i, String option) throws UsageException {
            if (i >= args.length) {
                throw new UsageException(option + " needs a value");
            }
            return args[i];
        }

        private static Path path(String path) throws UsageException {
            try {
                return Path.of(path);
            } catch (InvalidPathException e) {
                throw new UsageException("--socket " + e.getMessage());
            }
        }
    }

    private static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
