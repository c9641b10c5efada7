package io.handoffbroker.demo;

import io.handoffbroker.backend.StreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Writes back every byte it reads until the client closes. */
public final class EchoHandler implements StreamHandler {

    @Override
    public void serve(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) > 0) {
            out.write(buffer, 0, n);
            out.flush();
        }
    }
}
