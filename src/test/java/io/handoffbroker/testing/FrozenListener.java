package io.handoffbroker.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * A listener that stopped accepting with its backlog full, as a frozen or overwhelmed
 * process leaves it: a blocking connect to its path would wait for ever.
 */
public final class FrozenListener implements AutoCloseable {

    private final AFUNIXServerSocketChannel listener;
    private final List<AFUNIXSocketChannel> backlog = new ArrayList<>();

    private FrozenListener(Path path) throws IOException {
        listener = AFUNIXServerSocketChannel.open();
        try {
            listener.bind(AFUNIXSocketAddress.of(path), 1);
            while (backlog.size() < 64) {
                AFUNIXSocketChannel queued = AFUNIXSocketChannel.open();
                queued.configureBlocking(false);
                backlog.add(queued);
                if (!queued.connect(AFUNIXSocketAddress.of(path))) {
                    return; // refused for want of room: the backlog is full
                }
            }
            throw new IllegalStateException("the backlog did not fill up");
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    public static FrozenListener at(Path path) throws IOException {
        return new FrozenListener(path);
    }

    /** Accepts (and closes) one queued connection: the next connect gets in, and the backlog is full again. */
    public void makeRoom() throws IOException {
        listener.accept().close();
    }

    @Override
    public void close() throws IOException {
        for (AFUNIXSocketChannel queued : backlog) {
            queued.close();
        }
        listener.close();
    }
}
