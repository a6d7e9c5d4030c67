"""dockyard.layers"""
