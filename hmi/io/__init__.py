"""Connections to the outside: OPC UA to the PLCs, MQTT to the shopfloors. Each feeds the tag bus."""
