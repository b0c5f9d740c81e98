"""Drop-in os-brick connectors (iSCSI, Fibre Channel) backed by the pathagent daemon.

``pathagent_brick.connector.AgentISCSIConnector`` and ``AgentFibreChannelConnector``
have os-brick's ``InitiatorConnector`` interface and return shapes, and raise
os-brick's exception classes (``pathagent_brick.exception``). ``pathagent-brick
enable`` makes os-brick's factory return them in a Python environment. Standard
library only; os-brick is used when installed, never required.
"""

__version__ = "0.1.0"
