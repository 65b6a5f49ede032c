package io.tern.block.nbd;

import java.util.Objects;

import io.tern.block.BlockDevice;

/** A device served under a name (the resource's name). */
public record NbdExport(String name, String description, BlockDevice device) {
    public NbdExport {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        if (name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > Nbd.MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("export name must be 1.." + Nbd.MAX_NAME_LENGTH + " bytes: '" + name + "'");
        }
        description = description == null ? "" : description;
    }

    /** The transmission flags this export advertises: exactly what its device can do. */
    int transmissionFlags() {
        int f = Nbd.TX_HAS_FLAGS;
        if (device.isReadOnly()) {
            f |= Nbd.TX_READ_ONLY;
        }
        if (device.canFlush()) {
            f |= Nbd.TX_SEND_FLUSH;
        }
        if (device.canFua()) {
            f |= Nbd.TX_SEND_FUA;
        }
        if (device.canTrim() && !device.isReadOnly()) {
            f |= Nbd.TX_SEND_TRIM;
        }
        if (device.canZero() && !device.isReadOnly()) {
            f |= Nbd.TX_SEND_WRITE_ZEROES;
        }
        if (device.canMultiConn()) {
            f |= Nbd.TX_CAN_MULTI_CONN;
        }
        return f;
    }
}
