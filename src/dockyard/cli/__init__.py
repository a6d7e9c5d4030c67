"""dockyard.cli"""
