"""dockyard.transport"""
