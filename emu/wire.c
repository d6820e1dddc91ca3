/*
 * The emulator's datagram format (emu/emu.h): a fixed big-endian header
 * with a version and a CRC-32, then the payload.  Everything that arrives
 * from the network passes emu_wire_decode() before anything trusts it.
 */
#include <pthread.h>
#include <string.h>

#include "emu/emu.h"

const char *emu_wire_strerror(int status)
{
    static const char *const text[] = {
#define EMU_WIRE_TEXT_(name, t) t,
        EMU_WIRE_ERRORS(EMU_WIRE_TEXT_)
#undef EMU_WIRE_TEXT_
    };
    if (status < 0 || status >= EMU_WIRE_NSTATUS)
        return "unknown datagram status";
    return text[status];
}

/* Tables of the reflected polynomial 0xEDB88320 for slicing by 8 (eight
 * bytes a step: the checksum is on every packet's path), built once. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint32_t emu_crc32(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (; len >= 8; len -= 8, p += 8) {
        uint32_t a = le32(p) ^ crc, b = le32(p + 4);
        crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^
              crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24] ^
              crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^
              crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    }
    for (; len; len--, p++)
        crc = crc_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

void emu_wire_header(unsigned char hdr[EMU_WIRE_HDR],
                     const struct emu_wire_hdr *h, const void *payload)
{
    put32(hdr, EMU_WIRE_MAGIC);
    hdr[4] = h->version;
    hdr[5] = h->type;
    put16(hdr + 6, 0);
    put16(hdr + 8, h->src);
    put16(hdr + 10, h->dst);
    put32(hdr + 12, h->len);
    put32(hdr + 16, h->cluster);
    uint32_t crc = emu_crc32(0, hdr, 20);
    crc = emu_crc32(crc, payload, h->len);
    put32(hdr + 20, crc);
}

int emu_wire_decode(const void *buf, size_t len, struct emu_wire_hdr *h)
{
    const unsigned char *p = buf;
    memset(h, 0, sizeof *h);
    if (len < 5)
        return EMU_WIRE_SHORT;
    if (get32(p) != EMU_WIRE_MAGIC)
        return EMU_WIRE_BAD_MAGIC;
    h->version = p[4];
    if (p[4] != EMU_WIRE_VERSION)
        return EMU_WIRE_BAD_VERSION;
    if (len < EMU_WIRE_HDR)
        return EMU_WIRE_SHORT;
    h->type = p[5];
    h->src = get16(p + 8);
    h->dst = get16(p + 10);
    h->len = get32(p + 12);
    h->cluster = get32(p + 16);
    if ((uint64_t)h->len != (uint64_t)len - EMU_WIRE_HDR)
        return EMU_WIRE_BAD_LENGTH;
    uint32_t crc = emu_crc32(0, p, 20);
    crc = emu_crc32(crc, p + EMU_WIRE_HDR, h->len);
    if (crc != get32(p + 20))
        return EMU_WIRE_BAD_CHECKSUM;
    if (h->type < EMU_PKT_DATA || h->type >= EMU_PKT_NTYPES_ ||
        get16(p + 6) != 0)
        return EMU_WIRE_BAD_TYPE;
    return EMU_WIRE_OK;
}
