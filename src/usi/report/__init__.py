"""usi.report"""
