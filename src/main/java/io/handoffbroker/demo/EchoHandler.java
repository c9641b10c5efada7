package io.handoffbroker.demo;

import io.handoffbroker.backend.ConnectionHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.newsclub.net.unix.AFUNIXSocket;

/** Writes back every byte it reads until the client closes. */
public final class EchoHandler implements ConnectionHandler {

    @Override
    public void serve(AFUNIXSocket connection) throws IOException {
        InputStream in = connection.getInputStream();
        OutputStream out = connection.getOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
            out.flush();
        }
    }
}
