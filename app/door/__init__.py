"""The QR code at a station's door: its random token, the short URL it encodes, the code and the printed poster."""
