"""Plain-Python core of the HMI: tags, the tag bus, the plant model and the rules on them."""
